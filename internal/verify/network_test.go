package verify

import (
	"maps"
	"testing"

	"homeworld.dev/homeworld/internal/config"
)

// The network checks' queries.
const (
	qCollectEnum    = `flannel_collect_enum_check`
	qCollectEnumDup = `flannel_collect_enum_dup_check`
	qCollect        = `flannel_collect_check`
	qMonitor        = `flannel_monitor_check`
	qDuplicate      = `flannel_duplicate_check`
	qMonitorAge     = `time() - flannel_monitor_recency`
	qTalk           = `flannel_talk_check`
	qDNSAge         = `time() - dns_lookup_recency`
	qDNSInternal    = `dns_lookup_internal_check`
	qDNSUpstream    = `dns_lookup_upstream_check`
	qFlannelScraped = `up{job="flannel-monitor"}`
	qDNSScraped     = `up{job="dns-monitor"}`
	qDNSScrapes     = `up{job="dns-monitor"}[30s]`
)

// The test cluster's names and Service addresses (keysystemtest.Setup).
const (
	apiName = "kubernetes.default.svc.test.internal"
	dnsName = "kube-dns.kube-system.svc.test.internal"
	upName  = "upstream-check.homeworld.test"
)

func labelled(label, value, v string) sample { return sample{map[string]string{label: value}, v} }

// perKube is value on every Kubernetes node, labelled with its address.
func perKube(c *config.Config, label, value string) []sample {
	var out []sample
	for _, n := range nodesOf(c, config.KindMaster, config.KindWorker) {
		out = append(out, labelled(label, n.IP, value))
	}
	return out
}

// talkPairs is flannel_talk_check for every pair of Kubernetes nodes, 1
// but for the pairs in fail (from IP -> to IP) and without those in gone.
func talkPairs(c *config.Config, fail, gone map[[2]string]bool) []sample {
	var out []sample
	kube := nodesOf(c, config.KindMaster, config.KindWorker)
	for _, f := range kube {
		for _, t := range kube {
			k := [2]string{f.IP, t.IP}
			if gone[k] {
				continue
			}
			v := "1"
			if fail[k] {
				v = "0"
			}
			out = append(out, sample{map[string]string{"ping_from_host": f.IP, "ping_to_host": t.IP}, v})
		}
	}
	return out
}

// networkHealthy is what a working pod network and DNS answer.
func networkHealthy(c *config.Config) map[string]string {
	return map[string]string{
		qCollectEnum:    vector(sample{map[string]string{}, "1"}),
		qCollectEnumDup: vector(sample{map[string]string{}, "1"}),
		qCollect:        vector(perKube(c, "monitor_hostip", "1")...),
		qMonitor:        vector(perKube(c, "ping_from_host", "1")...),
		qDuplicate:      vector(perKube(c, "ping_from_host", "1")...),
		qMonitorAge:     vector(perKube(c, "ping_from_host", "12.5")...),
		qTalk:           vector(talkPairs(c, nil, nil)...),
		qDNSAge:         vector(sample{map[string]string{}, "9"}),
		qDNSInternal:    vector(labelled("hostname", apiName, "1"), labelled("hostname", dnsName, "1")),
		qDNSUpstream:    vector(labelled("hostname", upName, "1")),
		qFlannelScraped: vector(sample{map[string]string{"job": "flannel-monitor"}, "1"}),
		qDNSScraped:     vector(sample{map[string]string{"job": "dns-monitor"}, "1"}),
	}
}

// with1 replaces one node's sample (by address in label) with value, or
// drops it when value is "".
func with1(c *config.Config, label, ip, value, base string) []sample {
	var out []sample
	for _, s := range perKube(c, label, base) {
		if s.labels[label] == ip {
			if value == "" {
				continue
			}
			s.value = value
		}
		out = append(out, s)
	}
	return out
}

func TestNetworkCheckFailures(t *testing.T) {
	c := testConfig(t)
	const m1, m2, w1, w2 = "127.0.0.21", "127.0.0.22", "127.0.0.31", "127.0.0.32"
	// worker2's pod network is down: nobody reaches it, and the collector
	// (on a master) cannot read its monitor, so its own pairs are gone.
	w2down := map[[2]string]bool{}
	w2gone := map[[2]string]bool{}
	for _, n := range nodesOf(c, config.KindMaster, config.KindWorker) {
		if n.IP != w2 {
			w2down[[2]string{n.IP, w2}] = true
		}
		w2gone[[2]string{w2, n.IP}] = true
	}
	for _, tc := range []struct {
		check, name string
		answers     map[string]string
		want        string
	}{
		{"flannel", "not deployed", map[string]string{qCollectEnum: vector()},
			"flannel: no results from flannel-monitor's collector (is it deployed? spire deploy flannel-monitor)"},
		{"flannel", "collector cannot list", map[string]string{qCollectEnum: vector(sample{map[string]string{}, "0"})},
			"flannel: flannel-monitor's collector cannot find the monitors (see its log)"},
		{"flannel", "two monitors on a node", map[string]string{qCollectEnumDup: vector(sample{map[string]string{}, "0"})},
			"flannel: some node runs more than one flannel monitor"},
		{"flannel", "one pair fails", map[string]string{qTalk: vector(talkPairs(c, map[[2]string]bool{{w1, m2}: true}, nil)...)},
			"flannel: pods on worker1 cannot reach pods on master2"},
		{"flannel", "a pair not measured", map[string]string{qTalk: vector(talkPairs(c, nil, map[[2]string]bool{{m1, w1}: true})...)},
			"flannel: the monitor on master1 has not measured pods on worker1"},
		{"flannel", "worker2's pod network down", map[string]string{
			qTalk:    vector(talkPairs(c, w2down, w2gone)...),
			qCollect: vector(with1(c, "monitor_hostip", w2, "0", "1")...),
		}, "flannel: no monitor results from worker2 (no flannel-monitor pod there, or the collector cannot reach it); " +
			"flannel: pods on master1 cannot reach pods on worker2; flannel: pods on master2 cannot reach pods on worker2; " +
			"flannel: pods on master3 cannot reach pods on worker2; flannel: pods on worker1 cannot reach pods on worker2"},
		{"flannel", "no monitor on a node", map[string]string{qCollect: vector(with1(c, "monitor_hostip", m1, "", "1")...)},
			"flannel: no monitor results from master1 (no flannel-monitor pod there, or the collector cannot reach it)"},
		{"flannel", "monitor cannot find the others", map[string]string{qMonitor: vector(with1(c, "ping_from_host", m2, "0", "1")...)},
			"flannel: the monitor on master2 cannot find the other nodes' monitors (see its log)"},
		{"flannel", "two monitors on a node", map[string]string{qDuplicate: vector(with1(c, "ping_from_host", w1, "0", "1")...)},
			"flannel: the monitor on worker1 finds more than one monitor on a node"},
		{"flannel", "monitor stale", map[string]string{qMonitorAge: vector(with1(c, "ping_from_host", w1, "75", "12.5")...)},
			"flannel: the monitor on worker1 last measured 1m15s ago, want at most 1m0s"},
		{"flannel", "monitor without time", map[string]string{qMonitorAge: vector(with1(c, "ping_from_host", m1, "", "12.5")...)},
			"flannel: the monitor on master1 reports no time of measurement"},

		{"dns", "not deployed", map[string]string{qDNSAge: vector()},
			"dns: no results from dns-monitor (is it deployed? spire deploy dns-monitor)"},
		{"dns", "stale", map[string]string{qDNSAge: vector(sample{map[string]string{}, "31"})},
			"dns: dns-monitor last looked names up 31s ago, want at most 30s"},
		{"dns", "a name fails", map[string]string{qDNSInternal: vector(labelled("hostname", apiName, "1"), labelled("hostname", dnsName, "0"))},
			"dns: kube-dns.kube-system.svc.test.internal does not resolve to 172.28.0.2 from a pod"},
		{"dns", "a name not checked", map[string]string{qDNSInternal: vector(labelled("hostname", dnsName, "1"))},
			"dns: dns-monitor does not look up kubernetes.default.svc.test.internal (redeploy it: spire deploy dns-monitor)"},
		{"dns", "forwarding fails", map[string]string{qDNSUpstream: vector(labelled("hostname", upName, "0"))},
			"dns: upstream-check.homeworld.test, outside the cluster, does not resolve from a pod: forwarding to the upstream resolvers fails"},
	} {
		t.Run(tc.check+"/"+tc.name, func(t *testing.T) {
			answers := healthy(c)
			maps.Copy(answers, tc.answers)
			_, err := run(t, tc.check, answers)
			if err == nil || err.Error() != tc.want {
				t.Errorf("check %s = %v\nwant: %s", tc.check, err, tc.want)
			}
		})
	}
}

// TestDNSWithoutUpstreamCheck: a real cluster's dns-monitor checks no
// upstream name unless told to; then there is nothing to fail.
func TestDNSWithoutUpstreamCheck(t *testing.T) {
	answers := healthy(testConfig(t))
	answers[qDNSUpstream] = vector()
	if _, err := run(t, "dns", answers); err != nil {
		t.Errorf("dns without an upstream check: %v", err)
	}
}
