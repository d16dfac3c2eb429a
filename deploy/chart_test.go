package deploy

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/foyerhq/foyer/admission"
	"github.com/foyerhq/foyer/gateway"
)

const (
	chartDir = "helm/foyer"
	// kubeVersion is the cluster version the chart is rendered for: a helm built with
	// `go install` assumes v1.20 otherwise, below the chart's kubeVersion.
	kubeVersion = "1.30.0"
)

// helmBinary finds helm on PATH or where `go install` puts it. Without it the test skips, or
// fails when FOYER_CI=1: CI must never pass without having rendered the chart.
func helmBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("helm"); err == nil {
		return p
	}
	var dirs []string
	if gb := os.Getenv("GOBIN"); gb != "" {
		dirs = append(dirs, gb)
	}
	if gp := os.Getenv("GOPATH"); gp != "" {
		dirs = append(dirs, filepath.Join(gp, "bin"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go", "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, "helm")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	msg := "helm not found on PATH or in $GOBIN, $GOPATH/bin, ~/go/bin; install it with " +
		"`GOBIN=$HOME/go/bin go install helm.sh/helm/v3/cmd/helm@v3.19.5`"
	if os.Getenv("FOYER_CI") == "1" {
		t.Fatal(msg + " (FOYER_CI=1: the chart must be checked in CI)")
	}
	t.Skip(msg)
	return ""
}

// runHelm runs helm with args from the deploy directory and returns stdout, or stderr as error.
func runHelm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	helm := helmBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, helm, args...)
	// A private Helm home: nothing from the machine's repositories or plugins, nothing written to it.
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home+"/cache", "HELM_CONFIG_HOME="+home+"/config",
		"HELM_DATA_HOME="+home+"/data")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("helm %s: %w: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

// object is one rendered Kubernetes object, with the parts the tests read.
type object struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name        string            `yaml:"name"`
		Namespace   string            `yaml:"namespace"`
		Labels      map[string]string `yaml:"labels"`
		Annotations map[string]string `yaml:"annotations"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"`
	Spec yaml.Node         `yaml:"spec"`
}

type deploymentSpec struct {
	Replicas *int `yaml:"replicas"`
	Selector struct {
		MatchLabels map[string]string `yaml:"matchLabels"`
	} `yaml:"selector"`
	Template struct {
		Metadata struct {
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"metadata"`
		Spec podSpec `yaml:"spec"`
	} `yaml:"template"`
}

type podSpec struct {
	SecurityContext struct {
		RunAsNonRoot *bool  `yaml:"runAsNonRoot"`
		RunAsUser    *int64 `yaml:"runAsUser"`
	} `yaml:"securityContext"`
	AutomountServiceAccountToken *bool       `yaml:"automountServiceAccountToken"`
	Containers                   []container `yaml:"containers"`
	Volumes                      []struct {
		Name   string `yaml:"name"`
		Secret *struct {
			SecretName string `yaml:"secretName"`
		} `yaml:"secret"`
		ConfigMap *struct {
			Name string `yaml:"name"`
		} `yaml:"configMap"`
		EmptyDir *struct{} `yaml:"emptyDir"`
	} `yaml:"volumes"`
}

type container struct {
	Name  string   `yaml:"name"`
	Image string   `yaml:"image"`
	Args  []string `yaml:"args"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	Env []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			SecretKeyRef *struct {
				Name string `yaml:"name"`
				Key  string `yaml:"key"`
			} `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	LivenessProbe  probe `yaml:"livenessProbe"`
	ReadinessProbe probe `yaml:"readinessProbe"`
	Security       struct {
		RunAsNonRoot             *bool `yaml:"runAsNonRoot"`
		ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		Capabilities             struct {
			Drop []string `yaml:"drop"`
		} `yaml:"capabilities"`
	} `yaml:"securityContext"`
	Resources struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"volumeMounts"`
}

type probe struct {
	HTTPGet *struct {
		Path   string `yaml:"path"`
		Port   string `yaml:"port"`
		Scheme string `yaml:"scheme"`
	} `yaml:"httpGet"`
}

// rendered is the output of one `helm template`, by kind.
type rendered struct {
	objects []object
}

func (r rendered) kinds() []string {
	var k []string
	for _, o := range r.objects {
		k = append(k, o.Kind)
	}
	slices.Sort(k)
	return k
}

func (r rendered) all(kind string) []object {
	var out []object
	for _, o := range r.objects {
		if o.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}

func (r rendered) one(t *testing.T, kind string) object {
	t.Helper()
	os := r.all(kind)
	if len(os) != 1 {
		t.Fatalf("want one %s, rendered %d (kinds: %v)", kind, len(os), r.kinds())
	}
	return os[0]
}

func (r rendered) secret(name string) (object, bool) {
	for _, o := range r.all("Secret") {
		if o.Metadata.Name == name {
			return o, true
		}
	}
	return object{}, false
}

// render runs `helm template` on the chart with a values file of ci/ and decodes every object.
func render(t *testing.T, valuesFile string, set ...string) rendered {
	t.Helper()
	out, err := renderErr(t, valuesFile, set...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func renderErr(t *testing.T, valuesFile string, set ...string) (rendered, error) {
	t.Helper()
	args := []string{"template", "foyer", chartDir, "--namespace", "waiting", "--kube-version", kubeVersion}
	if valuesFile != "" {
		args = append(args, "-f", filepath.Join(chartDir, "ci", valuesFile))
	}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	out, err := runHelm(t, args...)
	if err != nil {
		return rendered{}, err
	}
	var r rendered
	dec := yaml.NewDecoder(strings.NewReader(out))
	for {
		var o object
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return rendered{}, fmt.Errorf("decode helm output: %w\n%s", err, out)
		}
		if o.Kind == "" {
			continue // an empty document
		}
		r.objects = append(r.objects, o)
	}
	return r, nil
}

func decodeSpec[T any](t *testing.T, o object) T {
	t.Helper()
	var v T
	if err := o.Spec.Decode(&v); err != nil {
		t.Fatalf("%s %s spec: %v", o.Kind, o.Metadata.Name, err)
	}
	return v
}

// secretData decodes a rendered Secret's base64 data.
func secretData(t *testing.T, o object) map[string]string {
	t.Helper()
	out := map[string]string{}
	for k, v := range o.Data {
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			t.Fatalf("secret %s key %s: %v", o.Metadata.Name, k, err)
		}
		out[k] = string(b)
	}
	return out
}

// foyerConfig parses the ConfigMap's foyer.yaml the way `foyer serve` does (strict decode,
// environment, defaults, validation). When the config has a tls block and this build of the
// gateway has no tls keys yet, the block is checked by the caller and left out here.
func foyerConfig(t *testing.T, cm object, env map[string]string) gateway.Config {
	t.Helper()
	text, ok := cm.Data["foyer.yaml"]
	if !ok {
		t.Fatalf("ConfigMap %s has no foyer.yaml (keys: %v)", cm.Metadata.Name, mapKeys(cm.Data))
	}
	if !gatewayKnowsTLS() {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(text), &m); err != nil {
			t.Fatalf("foyer.yaml: %v", err)
		}
		if _, has := m["tls"]; has {
			t.Log("this gateway.Config has no tls key yet: checking foyer.yaml without its tls block")
			delete(m, "tls")
			b, err := yaml.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			text = string(b)
		}
	}
	cfg, err := gateway.ParseConfig(strings.NewReader(text))
	if err != nil {
		t.Fatalf("foyer's parser refuses the rendered foyer.yaml: %v\n%s", err, text)
	}
	cfg.ApplyEnv(func(k string) string { return env[k] })
	cfg.FillDefaults()
	if err := cfg.Validate(); err != nil {
		// The certificate files come from a Secret mounted in the pod, not on this machine:
		// that they cannot be read here is expected; any other problem is the chart's.
		var ce *gateway.ConfigError
		var rest []string
		if errors.As(err, &ce) {
			for _, p := range ce.Problems {
				if !strings.HasPrefix(p, "tls.cert_file: cannot read") && !strings.HasPrefix(p, "tls.key_file: cannot read") {
					rest = append(rest, p)
				}
			}
		}
		if ce == nil || len(rest) > 0 {
			t.Fatalf("foyer's validation refuses the rendered foyer.yaml: %v\n%s", err, text)
		}
	}
	return cfg
}

// gatewayKnowsTLS says whether gateway.Config has a `tls` key (added with TLS termination).
func gatewayKnowsTLS() bool {
	rt := reflect.TypeOf(gateway.Config{})
	for i := 0; i < rt.NumField(); i++ {
		if strings.Split(rt.Field(i).Tag.Get("yaml"), ",")[0] == "tls" {
			return true
		}
	}
	return false
}

func mapKeys[V any](m map[string]V) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	slices.Sort(k)
	return k
}

// envOf resolves the container's environment: literal values, and secretKeyRefs from the
// rendered Secrets (a reference to a Secret the chart does not make resolves to nothing).
func envOf(t *testing.T, r rendered, c container) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			if s, ok := r.secret(e.ValueFrom.SecretKeyRef.Name); ok {
				if v, ok := secretData(t, s)[e.ValueFrom.SecretKeyRef.Key]; ok {
					env[e.Name] = v
				}
			}
		default:
			env[e.Name] = e.Value
		}
	}
	return env
}

func secretRef(c container, name string) (secret, key string) {
	for _, e := range c.Env {
		if e.Name == name && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			return e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key
		}
	}
	return "", ""
}

// checkGateway checks what every rendering's Deployment must have: probes on foyer's health
// paths, a non-root read-only container, resources, and the config and keys mounted.
func checkGateway(t *testing.T, r rendered, wantScheme string) (deploymentSpec, container) {
	t.Helper()
	d := decodeSpec[deploymentSpec](t, r.one(t, "Deployment"))
	if len(d.Template.Spec.Containers) != 1 {
		t.Fatalf("want one container, got %d", len(d.Template.Spec.Containers))
	}
	c := d.Template.Spec.Containers[0]
	for _, p := range []struct {
		name string
		pr   probe
		path string
	}{{"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}} {
		if p.pr.HTTPGet == nil || p.pr.HTTPGet.Path != p.path || p.pr.HTTPGet.Port != "http" || p.pr.HTTPGet.Scheme != wantScheme {
			t.Errorf("%s probe: want GET %s on port http (%s), got %+v", p.name, p.path, wantScheme, p.pr.HTTPGet)
		}
	}
	if len(c.Ports) != 1 || c.Ports[0].Name != "http" {
		t.Errorf("want one port named http, got %+v", c.Ports)
	}
	ps := d.Template.Spec.SecurityContext
	if ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.RunAsUser == nil || *ps.RunAsUser == 0 {
		t.Errorf("pod must run as a non-root user: %+v", ps)
	}
	sc := c.Security
	if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Error("container: runAsNonRoot must be true")
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("container: readOnlyRootFilesystem must be true")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("container: allowPrivilegeEscalation must be false")
	}
	if !slices.Contains(sc.Capabilities.Drop, "ALL") {
		t.Errorf("container must drop ALL capabilities, drops %v", sc.Capabilities.Drop)
	}
	if c.Resources.Requests["cpu"] == "" || c.Resources.Requests["memory"] == "" || c.Resources.Limits["memory"] == "" {
		t.Errorf("container resources: want cpu and memory requests and a memory limit, got %+v", c.Resources)
	}
	if want := []string{"serve", "--config", "/etc/foyer/config/foyer.yaml"}; !slices.Equal(c.Args, want) {
		t.Errorf("args: want %v, got %v", want, c.Args)
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
		if m.Name != "tmp" && !m.ReadOnly {
			t.Errorf("volume %s must be mounted read-only", m.Name)
		}
	}
	if mounts["config"] != "/etc/foyer/config" || mounts["keys"] != "/etc/foyer/keys" {
		t.Errorf("mounts: want config at /etc/foyer/config and keys at /etc/foyer/keys, got %v", mounts)
	}
	cmName := r.one(t, "ConfigMap").Metadata.Name
	for _, v := range d.Template.Spec.Volumes {
		if v.Name == "config" && (v.ConfigMap == nil || v.ConfigMap.Name != cmName) {
			t.Errorf("config volume must be the ConfigMap %s", cmName)
		}
	}
	if d.Template.Metadata.Annotations["checksum/config"] == "" {
		t.Error("the pod template needs a checksum/config annotation, so a config change rolls the gateways")
	}
	for k, v := range d.Selector.MatchLabels {
		if d.Template.Metadata.Labels[k] != v {
			t.Errorf("selector label %s=%s missing from the pod template", k, v)
		}
	}
	svc := r.one(t, "Service")
	var ss struct {
		Selector map[string]string `yaml:"selector"`
		Ports    []struct {
			TargetPort string `yaml:"targetPort"`
		} `yaml:"ports"`
	}
	if err := svc.Spec.Decode(&ss); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ss.Selector, d.Selector.MatchLabels) || len(ss.Ports) != 1 || ss.Ports[0].TargetPort != "http" {
		t.Errorf("Service must select the gateways and target port http: %+v", ss)
	}
	return d, c
}

func keysVolume(d deploymentSpec) string {
	for _, v := range d.Template.Spec.Volumes {
		if v.Name == "keys" && v.Secret != nil {
			return v.Secret.SecretName
		}
	}
	return ""
}

// loadKeys writes a keys Secret's files into a directory and loads it as foyer would.
func loadKeys(t *testing.T, s object) (*admission.KeySet, string) {
	t.Helper()
	dir := t.TempDir()
	data := secretData(t, s)
	for name, content := range data {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ks, err := admission.LoadKeyDir(dir)
	if err != nil {
		t.Fatalf("the keys Secret is not a key directory foyer can load: %v (files %v)", err, mapKeys(data))
	}
	if ks.SigningKey() == nil {
		t.Fatalf("the keys Secret has no signing key (files %v)", mapKeys(data))
	}
	return ks, strings.TrimSpace(data[".ticket-secret"])
}

func TestChartLint(t *testing.T) {
	for _, vf := range []string{"single-values.yaml", "sentinel-values.yaml", "cluster-values.yaml"} {
		t.Run(vf, func(t *testing.T) {
			out, err := runHelm(t, "lint", "--strict", "--kube-version", kubeVersion, chartDir, "-f", filepath.Join(chartDir, "ci", vf))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out, "0 chart(s) failed") {
				t.Fatalf("helm lint: %s", out)
			}
		})
	}
}

func TestChartSingleRedis(t *testing.T) {
	r := render(t, "single-values.yaml")
	want := []string{"ConfigMap", "Deployment", "PodDisruptionBudget", "PrometheusRule", "Secret", "Secret", "Service", "ServiceAccount", "ServiceMonitor"}
	if got := r.kinds(); !slices.Equal(got, want) {
		t.Fatalf("kinds: want %v, got %v", want, got)
	}
	d, c := checkGateway(t, r, "HTTP")
	if d.Replicas == nil || *d.Replicas != 3 {
		t.Errorf("replicas: want 3, got %v", d.Replicas)
	}
	if s, k := secretRef(c, "FOYER_ADMIN_TOKEN"); s != "foyer-env" || k != "admin-token" {
		t.Errorf("FOYER_ADMIN_TOKEN: want secret foyer-env key admin-token, got %q %q", s, k)
	}
	if s, k := secretRef(c, "FOYER_REDIS_URL"); s != "foyer-env" || k != "redis-url" {
		t.Errorf("FOYER_REDIS_URL: want secret foyer-env key redis-url, got %q %q", s, k)
	}
	if got := keysVolume(d); got != "foyer-keys" {
		t.Errorf("keys volume: want Secret foyer-keys, got %q", got)
	}
	keys, ok := r.secret("foyer-keys")
	if !ok {
		t.Fatal("no Secret foyer-keys")
	}
	ks, ticket := loadKeys(t, keys)
	if ks.SigningKey().ID() != "20261001T000000Z-ci0001" {
		t.Errorf("signing kid: got %s", ks.SigningKey().ID())
	}
	if ticket != "ci-ticket-secret-0123456789abcdef0123456789abcdef" {
		t.Errorf(".ticket-secret: got %q", ticket)
	}

	env := envOf(t, r, c)
	cm := r.one(t, "ConfigMap")
	// Secrets stay out of the ConfigMap.
	for _, secret := range []string{"ci-admin-token", "ci-redis-password", "ci-ticket-secret", "PRIVATE KEY"} {
		if strings.Contains(cm.Data["foyer.yaml"], secret) {
			t.Errorf("the ConfigMap carries a secret (%q):\n%s", secret, cm.Data["foyer.yaml"])
		}
	}
	cfg := foyerConfig(t, cm, env)
	if cfg.Redis.URL != "redis://:ci-redis-password@redis-master.data.svc.cluster.local:6379/0" || len(cfg.Redis.Addrs) != 0 {
		t.Errorf("redis: want the Secret's URL and no addrs, got url %q addrs %v", cfg.Redis.URL, cfg.Redis.Addrs)
	}
	if cfg.Redis.Prefix != "biff" || cfg.Tokens.KeyDir != "/etc/foyer/keys" || cfg.Listen != ":8080" {
		t.Errorf("chart-owned keys: prefix %q key_dir %q listen %q", cfg.Redis.Prefix, cfg.Tokens.KeyDir, cfg.Listen)
	}
	if len(cfg.Admin.Tokens) != 1 || cfg.Admin.Tokens[0].Name != "ci-lead" {
		t.Errorf("admin token from the Secret: got %+v", cfg.Admin.Tokens)
	}
	if !slices.Equal(cfg.TrustedProxies, []string{"10.0.0.0/8"}) {
		t.Errorf("trusted_proxies: got %v", cfg.TrustedProxies)
	}
	room := cfg.Rooms[0]
	wantOpen := time.Date(2026, 10, 2, 5, 0, 0, 0, time.UTC)
	if room.Name != "biff-2026" || room.RatePerMinute != 3000 || room.MaxActive != 1_000_000 || !room.OpensAt.Equal(wantOpen) || room.TimeZone != "Asia/Seoul" {
		t.Errorf("room survived rendering badly: %+v", room)
	}

	var sm struct {
		Endpoints []struct {
			Port string `yaml:"port"`
			Path string `yaml:"path"`
		} `yaml:"endpoints"`
	}
	smo := r.one(t, "ServiceMonitor")
	if err := smo.Spec.Decode(&sm); err != nil {
		t.Fatal(err)
	}
	if len(sm.Endpoints) != 1 || sm.Endpoints[0].Port != "http" || sm.Endpoints[0].Path != "/metrics" || smo.Metadata.Labels["release"] != "kube-prometheus-stack" {
		t.Errorf("ServiceMonitor: %+v labels %v", sm, smo.Metadata.Labels)
	}
	checkPrometheusRule(t, r.one(t, "PrometheusRule"))

	var pdb struct {
		MaxUnavailable int `yaml:"maxUnavailable"`
	}
	pdbo := r.one(t, "PodDisruptionBudget")
	if err := pdbo.Spec.Decode(&pdb); err != nil || pdb.MaxUnavailable != 1 {
		t.Errorf("PodDisruptionBudget: maxUnavailable %d (%v)", pdb.MaxUnavailable, err)
	}
}

func TestChartSentinelExistingSecretsHPAAndTLS(t *testing.T) {
	r := render(t, "sentinel-values.yaml")
	// The operator's Secrets are referenced, not made.
	want := []string{"ConfigMap", "Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Service", "ServiceAccount"}
	if got := r.kinds(); !slices.Equal(got, want) {
		t.Fatalf("kinds: want %v, got %v", want, got)
	}
	d, c := checkGateway(t, r, "HTTPS")
	if d.Replicas != nil {
		t.Errorf("with the HPA on, the Deployment must not set replicas (got %d)", *d.Replicas)
	}
	var hpa struct {
		MinReplicas    int `yaml:"minReplicas"`
		MaxReplicas    int `yaml:"maxReplicas"`
		ScaleTargetRef struct {
			Kind string `yaml:"kind"`
			Name string `yaml:"name"`
		} `yaml:"scaleTargetRef"`
	}
	hpao := r.one(t, "HorizontalPodAutoscaler")
	if err := hpao.Spec.Decode(&hpa); err != nil {
		t.Fatal(err)
	}
	if hpa.MinReplicas != 3 || hpa.MaxReplicas != 20 || hpa.ScaleTargetRef.Kind != "Deployment" || hpa.ScaleTargetRef.Name != "foyer" {
		t.Errorf("HPA: %+v", hpa)
	}
	if s, k := secretRef(c, "FOYER_ADMIN_TOKEN"); s != "foyer-ops" || k != "admin-token" {
		t.Errorf("FOYER_ADMIN_TOKEN: want the existing Secret foyer-ops, got %q %q", s, k)
	}
	if s, _ := secretRef(c, "FOYER_REDIS_URL"); s != "" {
		t.Errorf("FOYER_REDIS_URL must not be set in sentinel mode (foyer would drop redis.addrs for it), got Secret %q", s)
	}
	if s, k := secretRef(c, "FOYER_REDIS_PASSWORD"); s != "foyer-ops" || k != "redis-password" {
		t.Errorf("FOYER_REDIS_PASSWORD: want the existing Secret foyer-ops key redis-password, got %q %q", s, k)
	}
	if got := keysVolume(d); got != "foyer-keys-2026" {
		t.Errorf("keys volume: want the existing Secret foyer-keys-2026, got %q", got)
	}
	var tlsSecret string
	for _, v := range d.Template.Spec.Volumes {
		if v.Name == "tls" && v.Secret != nil {
			tlsSecret = v.Secret.SecretName
		}
	}
	if tlsSecret != "queue-example-org-tls" {
		t.Errorf("tls volume: want Secret queue-example-org-tls, got %q", tlsSecret)
	}

	cm := r.one(t, "ConfigMap")
	var raw struct {
		TLS struct {
			CertFile string `yaml:"cert_file"`
			KeyFile  string `yaml:"key_file"`
		} `yaml:"tls"`
	}
	if err := yaml.Unmarshal([]byte(cm.Data["foyer.yaml"]), &raw); err != nil {
		t.Fatal(err)
	}
	if raw.TLS.CertFile != "/etc/foyer/tls/tls.crt" || raw.TLS.KeyFile != "/etc/foyer/tls/tls.key" {
		t.Errorf("tls in foyer.yaml: %+v", raw.TLS)
	}
	cfg := foyerConfig(t, cm, envOf(t, r, c))
	wantAddrs := []string{"sentinel-0.sentinel:26379", "sentinel-1.sentinel:26379", "sentinel-2.sentinel:26379"}
	if !slices.Equal(cfg.Redis.Addrs, wantAddrs) || cfg.Redis.MasterName != "foyer-master" || cfg.Redis.Password != "" {
		t.Errorf("sentinel: addrs %v master %q password in the ConfigMap %v", cfg.Redis.Addrs, cfg.Redis.MasterName, cfg.Redis.Password != "")
	}
	// Ticket secrets for rotation: files of the keys Secret, never their content.
	if len(cfg.Tickets.Secrets) != 2 || cfg.Tickets.Secrets[0].SecretFile != "/etc/foyer/keys/ticket-2" || cfg.Tickets.Secrets[0].Secret != "" {
		t.Errorf("tickets.secrets: %+v", cfg.Tickets.Secrets)
	}
	if len(cfg.Admin.Tokens) != 1 || cfg.Admin.Tokens[0].TokenFile != "/etc/foyer/keys/admin-lead" || cfg.Admin.Tokens[0].Token != "" {
		t.Errorf("admin.tokens: %+v", cfg.Admin.Tokens)
	}
	if cfg.Redis.Prefix != "concert" || cfg.Redis.Timeout != 300*time.Millisecond {
		t.Errorf("redis prefix %q timeout %s", cfg.Redis.Prefix, cfg.Redis.Timeout)
	}
}

func TestChartClusterGeneratedKeys(t *testing.T) {
	r := render(t, "cluster-values.yaml")
	want := []string{"ConfigMap", "Deployment", "Secret", "Secret", "Service", "ServiceAccount"}
	if got := r.kinds(); !slices.Equal(got, want) {
		t.Fatalf("kinds: want %v (no PodDisruptionBudget), got %v", want, got)
	}
	d, c := checkGateway(t, r, "HTTP")
	if d.Replicas == nil || *d.Replicas != 5 {
		t.Errorf("replicas: want 5, got %v", d.Replicas)
	}
	keys, ok := r.secret("foyer-keys")
	if !ok {
		t.Fatal("no generated Secret foyer-keys")
	}
	if keys.Metadata.Annotations["helm.sh/resource-policy"] != "keep" {
		t.Error("the keys Secret must survive `helm uninstall` (helm.sh/resource-policy: keep)")
	}
	ks, ticket := loadKeys(t, keys)
	if ks.SigningKey().Algorithm() != admission.EdDSA {
		t.Errorf("generated key: want EdDSA, got %s", ks.SigningKey().Algorithm())
	}
	if len(ticket) < 32 {
		t.Errorf("generated ticket secret: %d characters", len(ticket))
	}
	// The env Secret holds the Redis password only (no admin token was given), and it reaches
	// foyer as FOYER_REDIS_PASSWORD, never through the ConfigMap.
	if env, ok := r.secret("foyer-env"); !ok || len(env.Data) != 1 || secretData(t, env)["redis-password"] != "ci-cluster-password" {
		t.Errorf("env Secret: %+v", env.Data)
	}
	if s, k := secretRef(c, "FOYER_REDIS_PASSWORD"); s != "foyer-env" || k != "redis-password" {
		t.Errorf("FOYER_REDIS_PASSWORD: want secret foyer-env key redis-password, got %q %q", s, k)
	}
	cm := r.one(t, "ConfigMap")
	if strings.Contains(cm.Data["foyer.yaml"], "ci-cluster-password") {
		t.Errorf("the ConfigMap carries the Redis password:\n%s", cm.Data["foyer.yaml"])
	}
	cfg := foyerConfig(t, cm, envOf(t, r, c))
	wantAddrs := []string{"redis-cluster-0.redis-cluster:6379", "redis-cluster-1.redis-cluster:6379", "redis-cluster-2.redis-cluster:6379"}
	if !slices.Equal(cfg.Redis.Addrs, wantAddrs) || cfg.Redis.MasterName != "" || cfg.Redis.Password != "ci-cluster-password" {
		t.Errorf("cluster: addrs %v master %q password from the Secret %v", cfg.Redis.Addrs, cfg.Redis.MasterName, cfg.Redis.Password != "")
	}
	if len(cfg.Rooms) != 2 || cfg.Rooms[1].Mode != "token" || cfg.Rooms[1].ReturnURLs[0] != "https://tickets.example.org/" {
		t.Errorf("rooms: %+v", cfg.Rooms)
	}
	if len(cfg.Admin.Tokens) != 0 {
		t.Errorf("no admin token was given, got %+v", cfg.Admin.Tokens)
	}
}

// TestChartRefuses: values that would give a broken or unsafe deployment stop the rendering
// with a message naming the value.
func TestChartRefuses(t *testing.T) {
	cases := []struct {
		name   string
		values string
		set    []string
		want   string
	}{
		{"no keys", "", nil, "keys: give the admission keys"},
		{"keys without a ticket secret", "single-values.yaml", []string{"keys.files.\\.ticket-secret=null"}, "needs .ticket-secret"},
		{"short ticket secret", "single-values.yaml", []string{"keys.files.\\.ticket-secret=short"}, "at least 32 characters"},
		{"admin tokens in the config", "single-values.yaml", []string{"config.admin.tokens[0].name=x"}, "config.admin: admin tokens are secrets"},
		{"ticket secrets in the config", "single-values.yaml", []string{"config.tickets.secrets[0].id=1", "config.tickets.secrets[0].secret=s"}, "config.tickets.secrets[0]: ticket secrets are secrets"},
		{"admin token in the config", "single-values.yaml", []string{"config.admin.tokens[0].name=x", "config.admin.tokens[0].token=t"}, "config.admin: admin tokens are secrets"},
		{"ticket secret without a file", "single-values.yaml", []string{"config.tickets.secrets[0].id=1"}, "config.tickets.secrets[0]: ticket secrets are secrets"},
		{"redis password beside an existing Secret", "sentinel-values.yaml", []string{"redis.password=p"}, "redis.password: with secrets.existingSecret"},
		{"listen in the config", "single-values.yaml", []string{"config.listen=:9000"}, "config.listen"},
		{"key_dir in the config", "single-values.yaml", []string{"config.tokens.key_dir=/x"}, "config.tokens.key_dir"},
		{"unknown redis mode", "single-values.yaml", []string{"redis.mode=ring"}, "redis.mode: must be single, sentinel or cluster"},
		{"sentinel without a master", "sentinel-values.yaml", []string{"redis.masterName="}, "redis.masterName: sentinel mode needs"},
		{"sentinel without sentinels", "sentinel-values.yaml", []string{"redis.addrs=null"}, "redis.addrs: sentinel mode needs"},
		{"cluster with a master name", "cluster-values.yaml", []string{"redis.masterName=m"}, "redis.masterName: only for sentinel"},
		{"password beside a single URL", "single-values.yaml", []string{"redis.password=p"}, "redis.password: in single mode"},
		{"admin token without a name", "single-values.yaml", []string{"secrets.adminToken=just-a-token-0123456789"}, "secrets.adminToken: must be name:token"},
		{"tls without a Secret", "single-values.yaml", []string{"tls.enabled=true"}, "tls.secretName"},
		{"HPA of one", "sentinel-values.yaml", []string{"autoscaling.minReplicas=1"}, "autoscaling.minReplicas"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := renderErr(t, tc.values, tc.set...)
			if err == nil {
				t.Fatalf("rendered; want an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error containing %q, got %v", tc.want, err)
			}
		})
	}
}

// checkPrometheusRule: the chart's PrometheusRule carries the alert rules of
// deploy/prometheus/foyer-rules.yml, the file promtool tests, unchanged.
func checkPrometheusRule(t *testing.T, o object) {
	t.Helper()
	var got, want any
	if err := o.Spec.Decode(&got); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join("prometheus", "foyer-rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Error("the PrometheusRule's spec differs from deploy/prometheus/foyer-rules.yml: " +
			"cp deploy/prometheus/foyer-rules.yml deploy/helm/foyer/files/")
	}
	if o.Metadata.Labels["release"] != "kube-prometheus-stack" {
		t.Errorf("PrometheusRule labels: %v", o.Metadata.Labels)
	}
}
