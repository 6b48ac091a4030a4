package keyapi

// Authority names one of the cluster's authorities: in PathPub downloads, in
// the policy's grants and in the credential catalogue. internal/authority
// holds the authorities themselves (its Name is this type), but node-side
// programs may not link it, so the names are declared here.
type Authority string

// The cluster's authorities. Their names are part of the on-disk and wire
// formats: changing one means regenerating every credential.
const (
	Keygranting    Authority = "keygranting"
	ClusterCA      Authority = "clusterca"
	SSHUser        Authority = "ssh-user"
	SSHHost        Authority = "ssh-host"
	Kubernetes     Authority = "kubernetes"
	EtcdServer     Authority = "etcd-server"
	EtcdClient     Authority = "etcd-client"
	ServiceAccount Authority = "serviceaccount"
	// BranchSigning signs the apt branches nodes install from. Only the
	// administrator's machine holds it: no grant or download names it.
	BranchSigning Authority = "branch-signing"
)
