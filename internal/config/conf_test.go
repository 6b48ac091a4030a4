package config

import (
	"strings"
	"testing"
)

func TestClusterAndLocalConf(t *testing.T) {
	c, _, err := Parse("setup.yaml", []byte(validSetup))
	if err != nil {
		t.Fatal(err)
	}
	kv, err := ParseConf(ClusterConf(c))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"APISERVER":      "https://10.20.0.21:443",
		"ETCD_CLUSTER":   "master1=https://10.20.0.21:2380,master2=https://10.20.0.22:2380,master3=https://10.20.0.23:2380",
		"SERVICE_DNS":    "172.28.0.2",
		"CLUSTER_DOMAIN": "cluster.internal",
	}
	for k, v := range want {
		if kv[k] != v {
			t.Errorf("%s = %q, want %q", k, kv[k], v)
		}
	}
	w, _ := c.FindNode("worker1")
	local, _ := ParseConf(LocalConf(c, w))
	if local["SCHEDULE_WORK"] != "true" || local["KIND"] != "worker" || local["HOST_DNS"] != "worker1.cluster.example.org" {
		t.Errorf("local.conf = %v", local)
	}
	if _, err := ParseConf("A=1\nnot a pair\n"); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("ParseConf bad line = %v", err)
	}
}
