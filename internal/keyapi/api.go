package keyapi

// API names one operation of a batch. Every operation's name is declared
// here and nowhere else: the policy grants them, the credential catalogue
// says which one yields each credential, and the clients call them.
type API string

// Node operations: each yields one credential of the catalogue
// (internal/credential).
const (
	RenewKeygrant          API = "renew-keygrant"
	GetLocalConfig         API = "get-local-config"
	GrantSSHHost           API = "grant-ssh-host"
	GrantRegistryHost      API = "grant-registry-host"
	GrantAuthMonitor       API = "grant-auth-monitor"
	GrantKubeSupervisor    API = "grant-kubernetes-supervisor"
	GrantKubeSetupQueue    API = "grant-kubernetes-setup-queue"
	GrantKubeWorker        API = "grant-kubernetes-worker"
	GrantKubeProxy         API = "grant-kubernetes-proxy"
	GrantKubeFlannel       API = "grant-kubernetes-flannel"
	GrantKubeMaster        API = "grant-kubernetes-master"
	GrantKubeCtrlMgr       API = "grant-kubernetes-ctrl-mgr"
	GrantKubeScheduler     API = "grant-kubernetes-scheduler"
	GrantEtcdServer        API = "grant-etcd-server"
	GrantEtcdClient        API = "grant-etcd-client"
	FetchServiceAccountKey API = "fetch-serviceaccount-key"
	// The supervisor's Kerberos gateway and user-grant service: the node
	// obtains their certificates, the services run as accounts of their own.
	GrantKeygateway      API = "grant-keygateway"
	GrantKeygatewayHTTPS API = "grant-keygateway-https"
	GrantUserGrant       API = "grant-user-grant"
	GrantUserGrantHTTPS  API = "grant-user-grant-https"
	GrantKubeUserGrant   API = "grant-kubernetes-user-grant"
)

// Administrator operations.
const (
	AccessSSH        API = "access-ssh"
	AccessKubernetes API = "access-kubernetes"
	AccessEtcd       API = "access-etcd"
	Admit            API = "admit"         // issue an admission token for a node
	ImpersonateAdmin API = "auth-as-admin" // the Kerberos gateway acting for the admin it authenticated
	MonitorSSH       API = "monitor-ssh"   // auth-monitor's SSH certificate for its login checks
	Deny             API = "deny"          // refuse a principal or certificate serial at once
	Allow            API = "allow"         // lift a deny
)

// Service operations.
const (
	// SignKubeUser is user-grant's: a Kubernetes client certificate for the
	// user its CSR names, user:<name>, and nothing more.
	SignKubeUser API = "sign-kubernetes-user"
)
