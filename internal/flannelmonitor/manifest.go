package flannelmonitor

import (
	"bytes"
	_ "embed"
	"fmt"
	"net/netip"
	"text/template"
	"time"

	"homeworld.dev/homeworld/internal/config"
)

// Image is flannel-monitor's image; scripts/build makes it (a test checks
// the two agree).
const Image = "homeworld.private/flannel-monitor:2"

// Names of the objects, for whoever looks them up.
const (
	Namespace   = "kube-system"
	Account     = "flannel-monitor"          // ServiceAccount, Role
	Topology    = "flannel-monitor-topology" // ClusterRole: list nodes
	Monitors    = "kube-flannel-monitor-ds"
	CollectorDe = "flannel-monitor-collector" // the Deployment
	// Service is the collector's Service; Prometheus reads it through the
	// apiserver's service proxy at port MetricsPort.
	Service     = "flannel-monitor-collector"
	MetricsPort = "metrics"
	// ServicePort is the Service's port, as the original's; it maps to
	// Port in the pod.
	ServicePort = 80

	controlPlaneTaint = "node-role.kubernetes.io/control-plane"
	managedByLabel    = "app.kubernetes.io/managed-by: homeworld"
)

type role struct {
	Kind, Name, App, Role string
	Args                  []string
	PortName, Probe       string
	// ProbePeriod and ProbeFailures set the readiness probe: seconds
	// between probes, and failures in a row before the pod is unready.
	ProbePeriod, ProbeFailures int
}

// The collector is probed every second (15 failures in a row before it is
// unready, the same 15 s as the monitors' 3 at 5 s): Prometheus reads it
// through its Service, which has no endpoint until a probe passes, and a
// first probe that came before it listened held a new cluster's proof
// back for up to 5 s more.
const (
	monitorProbePeriod, monitorProbeFailures     = 5, 3
	collectorProbePeriod, collectorProbeFailures = 1, 15
)

//go:embed manifest.yaml
var manifestText string

var manifest = template.Must(template.New("manifest.yaml").Parse(manifestText))

// Options vary the deployment.
type Options struct {
	// Interval between the monitors' and the collector's cycles; zero is
	// the default (Interval). The virtual cluster measures more often so
	// a new cluster is proven sooner.
	Interval time.Duration
}

// Manifest returns flannel-monitor's objects for the cluster of c as one
// YAML document stream.
func Manifest(c *config.Config, o Options) (string, error) {
	pods, err := netip.ParsePrefix(c.Addresses.CIDRPods)
	if err != nil {
		return "", fmt.Errorf("addresses.cidr-pods: %w", err)
	}
	var b bytes.Buffer
	err = manifest.Execute(&b, map[string]any{
		"Namespace": Namespace, "Account": Account, "Topology": Topology, "ManagedBy": managedByLabel,
		"ControlPlaneTaint": controlPlaneTaint, "KindLabel": config.KindLabel, "Image": Image, "Port": Port,
		"Service": Service, "MetricsPort": MetricsPort, "ServicePort": ServicePort, "CollectorApp": CollectorApp,
		"Roles": []role{
			{"DaemonSet", Monitors, MonitorApp, "monitor", append([]string{"--pod-network", pods.String()}, interval(o)...), MetricsPort, "/ping", monitorProbePeriod, monitorProbeFailures},
			{"Deployment", CollectorDe, CollectorApp, "collector", interval(o), MetricsPort, "/metrics", collectorProbePeriod, collectorProbeFailures},
		},
	})
	return b.String(), err
}

func interval(o Options) []string {
	if o.Interval == 0 {
		return nil
	}
	return []string{"--interval", o.Interval.String()}
}
