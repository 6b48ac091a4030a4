// Package kubestate exports the state of Kubernetes objects that spire
// verify checks (nodes, their conditions and taints, namespaces) with
// kube-state-metrics' metric names. kube-state-metrics itself is not served
// by the module proxy this project builds from, so this is the subset
// Homeworld needs, read over the API with the supervisor's read-only
// certificate. cmd/kube-state-exporter runs it on the supervisor.
package kubestate

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Exporter reads from the first apiserver that answers.
type Exporter struct {
	servers []string
	client  *http.Client
	descs   map[string]*prometheus.Desc
}

// New builds an exporter trusting caFile and authenticating with the
// certificate pair.
func New(servers []string, caFile, certFile, keyFile string) (*Exporter, error) {
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("%s holds no certificate", caFile)
	}
	e := &Exporter{servers: servers, descs: map[string]*prometheus.Desc{
		"info":      prometheus.NewDesc("kube_node_info", "Information about a cluster node.", []string{"node", "kubelet_version", "internal_ip"}, nil),
		"unsched":   prometheus.NewDesc("kube_node_spec_unschedulable", "Whether a node can schedule new pods.", []string{"node"}, nil),
		"taint":     prometheus.NewDesc("kube_node_spec_taint", "The taint of a cluster node.", []string{"node", "key", "value", "effect"}, nil),
		"condition": prometheus.NewDesc("kube_node_status_condition", "The condition of a cluster node.", []string{"node", "condition", "status"}, nil),
		"nsphase":   prometheus.NewDesc("kube_namespace_status_phase", "kubernetes namespace status phase.", []string{"namespace", "phase"}, nil),
		"up":        prometheus.NewDesc("kube_state_api_up", "1 if the last read of the Kubernetes API succeeded.", nil, nil),
	}}
	e.client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12,
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				pair, err := tls.LoadX509KeyPair(certFile, keyFile) // renewed by the keyclient
				return &pair, err
			}},
	}}
	return e, nil
}

// Describe implements prometheus.Collector.
func (e *Exporter) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range e.descs {
		ch <- d
	}
}

type nodeList struct {
	Items []struct {
		Metadata struct{ Name string } `json:"metadata"`
		Spec     struct {
			Unschedulable bool `json:"unschedulable"`
			Taints        []struct{ Key, Value, Effect string }
		} `json:"spec"`
		Status struct {
			Conditions []struct{ Type, Status string }  `json:"conditions"`
			Addresses  []struct{ Type, Address string } `json:"addresses"`
			NodeInfo   struct {
				KubeletVersion string `json:"kubeletVersion"`
			} `json:"nodeInfo"`
		} `json:"status"`
	} `json:"items"`
}

type namespaceList struct {
	Items []struct {
		Metadata struct{ Name string }  `json:"metadata"`
		Status   struct{ Phase string } `json:"status"`
	} `json:"items"`
}

// get reads path from the first apiserver that answers.
func (e *Exporter) get(ctx context.Context, path string, into any) error {
	var errs []error
	for _, s := range e.servers {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s+path, nil)
		if err != nil {
			return err
		}
		resp, err := e.client.Do(req)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		err = func() error {
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s%s: %s", s, path, resp.Status)
			}
			return json.NewDecoder(resp.Body).Decode(into)
		}()
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Collect implements prometheus.Collector: one API read per scrape.
func (e *Exporter) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var nodes nodeList
	var nss namespaceList
	err := e.get(ctx, "/api/v1/nodes", &nodes)
	if err == nil {
		err = e.get(ctx, "/api/v1/namespaces", &nss)
	}
	gauge := func(d string, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(e.descs[d], prometheus.GaugeValue, v, labels...)
	}
	if err != nil {
		gauge("up", 0)
		return
	}
	gauge("up", 1)
	for _, n := range nodes.Items {
		name := n.Metadata.Name
		ip := ""
		for _, a := range n.Status.Addresses {
			if a.Type == "InternalIP" {
				ip = a.Address
			}
		}
		gauge("info", 1, name, n.Status.NodeInfo.KubeletVersion, ip)
		gauge("unsched", b2f(n.Spec.Unschedulable), name)
		for _, t := range n.Spec.Taints {
			gauge("taint", 1, name, t.Key, t.Value, t.Effect)
		}
		for _, c := range n.Status.Conditions {
			for _, st := range []string{"true", "false", "unknown"} {
				gauge("condition", b2f(strings.EqualFold(c.Status, st)), name, c.Type, st)
			}
		}
	}
	for _, ns := range nss.Items {
		for _, phase := range []string{"Active", "Terminating"} {
			gauge("nsphase", b2f(ns.Status.Phase == phase), ns.Metadata.Name, phase)
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
