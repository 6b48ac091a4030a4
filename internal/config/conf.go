package config

import (
	"bufio"
	"fmt"
	"strings"
)

// ClusterConf and ParseConf are what internal/spirecmd/access_cmd.go still
// calls to learn the apiserver's URL; that file is being moved elsewhere, so
// it keeps them until the merge.
//
// Deprecated: use nodeconf.ForCluster(c).APIServer(), and delete this file.
func ClusterConf(c *Config) string {
	return "APISERVER=https://" + c.NodesOf(KindMaster)[0].IP + ":443\n"
}

// Deprecated: use nodeconf.ParseCluster.
func ParseConf(text string) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for line := 1; sc.Scan(); line++ {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok {
			return nil, fmt.Errorf("line %d is not KEY=VALUE", line)
		}
		out[k] = v
	}
	return out, sc.Err()
}
