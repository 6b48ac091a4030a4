package launch

import (
	"homeworld.dev/homeworld/internal/credential"
	"homeworld.dev/homeworld/internal/services"
	"homeworld.dev/homeworld/internal/setupqueue"
)

// setupQueue runs the supervisor's setup queue with its own Kubernetes
// identity (an administrator: it applies RBAC) and the pinned kubectl.
func setupQueue(n *Node) (*Launch, error) {
	kc := kubeconfigPath("setup-queue")
	text, err := n.kubeconfig("setup-queue:"+n.Local.Hostname, credential.SetupQueue.Name)
	if err != nil {
		return nil, err
	}
	argv := []string{n.bin("setup-queue"), "--queue", setupqueue.DefaultDir, "--kubectl", n.bin("kubectl"),
		"--kubeconfig", kc, "--listen", services.SetupQueue.Addr(n.ip())}
	if n.Cluster.Virtual {
		// virt up waits for the queue; an item waits at most a second.
		argv = append(argv, "--interval", "1s")
	}
	return &Launch{Files: map[string]string{kc: text}, Argv: argv}, nil
}
