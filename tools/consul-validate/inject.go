package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"time"
	"unsafe"

	mapset "github.com/deckarep/golang-set"
	jsonpatch "github.com/evanphx/json-patch"
	"github.com/go-logr/logr"
	"github.com/hashicorp/consul-k8s/control-plane/connect-inject/lifecycle"
	"github.com/hashicorp/consul-k8s/control-plane/connect-inject/metrics"
	"github.com/hashicorp/consul-k8s/control-plane/connect-inject/webhook"
	"github.com/hashicorp/consul-k8s/control-plane/consul"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// The cluster's install: the chart's values where the chart decides.
type settings struct {
	// connectInject.cni.enabled (default false).
	CNI bool `json:"cni"`
	// connectInject.dataplaneAsSidecarInitContainer.defaultEnabled (default false).
	DataplaneAsSidecar bool `json:"dataplaneAsSidecar"`
}

type injectRequest struct {
	Pod       corev1.Pod       `json:"pod"`
	Namespace corev1.Namespace `json:"namespace"`
	Settings  settings         `json:"settings"`
}

// An in-cluster resolv.conf of the injector's pod (release namespace consul,
// kube-dns at 10.96.0.10): the injector copies its nameservers into the
// dnsConfig it gives pods when Consul DNS redirection is on.
const resolvConf = `search consul.svc.cluster.local svc.cluster.local cluster.local
nameserver 10.96.0.10
options ndots:5
`

func quantity(s string) resource.Quantity { return resource.MustParse(s) }

// meshWebhook is the injector as the chart (charts/consul at v2.0.3, values.yaml
// and templates/connect-inject-deployment.yaml) configures it by default:
// no ACLs, no TLS, transparent proxy on, Consul DNS redirection on (dns.enabled
// and dns.enableRedirection follow transparentProxy.defaultEnabled), metrics
// off, proxy lifecycle on, Envoy concurrency 2.
func meshWebhook(s settings, ns *corev1.Namespace, resolvFile string) (*webhook.MeshWebhook, error) {
	w := &webhook.MeshWebhook{
		Clientset:             fake.NewSimpleClientset(ns),
		ReleaseNamespace:      "consul",
		ConsulConfig:          &consul.Config{HTTPPort: 8500, GRPCPort: 8502, APITimeout: 5 * time.Second},
		ImageConsul:           "hashicorp/consul:2.0.3",
		ImageConsulDataplane:  "hashicorp/consul-dataplane:2.0.3",
		ImageConsulK8S:        "hashicorp/consul-k8s-control-plane:2.0.3",
		RequireAnnotation:     true, // connectInject.default: false
		ConsulAddress:         "consul-server.consul.svc",
		AllowK8sNamespacesSet: mapset.NewSetWith("*"),
		DenyK8sNamespacesSet:  mapset.NewSet(),
		DefaultEnvoyProxyConcurrency: 2,
		LifecycleConfig: lifecycle.Config{
			DefaultEnableProxyLifecycle:           true,
			DefaultEnableShutdownDrainListeners:   true,
			DefaultShutdownGracePeriodSeconds:     30,
			DefaultStartupGracePeriodSeconds:      0,
			DefaultGracefulPort:                   "20600",
			DefaultGracefulShutdownPath:           "/graceful_shutdown",
			DefaultGracefulStartupPath:            "/graceful_startup",
			DefaultEnableConsulDataplaneAsSidecar: s.DataplaneAsSidecar,
		},
		MetricsConfig: metrics.Config{
			EnableGatewayMetrics:        true,
			DefaultMergedMetricsPort:    "20100",
			DefaultPrometheusScrapePort: "20200",
			DefaultPrometheusScrapePath: "/metrics",
		},
		InitContainerResources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: quantity("50m"), corev1.ResourceMemory: quantity("25Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: quantity("150Mi")},
		},
		EnableTransparentProxy: true,
		EnableCNI:              s.CNI,
		TProxyOverwriteProbes:  true,
		EnableConsulDNS:        true,
		Log:                    logr.Discard(),
		LogLevel:               "info",
		LogJSON:                false,
		// inject-connect's flag defaults (the chart passes them only with
		// dataplaneAsSidecarInitContainer.defaultEnabled).
		DefaultSidecarProbeCheckInitialDelaySeconds: 1,
		DefaultSidecarProbePeriodSeconds:            1,
		DefaultSidecarProbeFailureThreshold:         10,
		DefaultSidecarProbeCheckTimeoutSeconds:      5,
	}
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	// The decoder is set by SetupWithManager, and the resolv.conf path is a
	// test hook; both are unexported, so they are set through reflection.
	setUnexported(w, "decoder", admission.NewDecoder(scheme))
	setUnexported(w, "etcResolvFile", resolvFile)
	return w, nil
}

func setUnexported(target any, name string, value any) {
	field := reflect.ValueOf(target).Elem().FieldByName(name)
	reflect.NewAt(field.Type(), unsafe.Pointer(field.UnsafeAddr())).Elem().Set(reflect.ValueOf(value))
}

func inject(input []byte) (*corev1.Pod, error) {
	var req injectRequest
	if err := json.Unmarshal(input, &req); err != nil {
		return nil, err
	}
	resolv, err := os.CreateTemp("", "resolv.conf")
	if err != nil {
		return nil, err
	}
	defer os.Remove(resolv.Name())
	if _, err := resolv.WriteString(resolvConf); err != nil {
		return nil, err
	}
	resolv.Close()

	ns := req.Namespace
	if ns.Name == "" {
		ns.Name = req.Pod.Namespace
	}
	w, err := meshWebhook(req.Settings, &ns, resolv.Name())
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(req.Pod)
	if err != nil {
		return nil, err
	}
	resp := w.Handle(context.Background(), admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		Namespace: ns.Name,
		Operation: admissionv1.Create,
		Object:    runtime.RawExtension{Raw: raw},
		Kind:      metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
	}})
	if !resp.Allowed {
		return nil, fmt.Errorf("the injector refused the pod: %v", resp.Result)
	}
	patch, err := json.Marshal(resp.Patches)
	if err != nil {
		return nil, err
	}
	decoded, err := jsonpatch.DecodePatch(patch)
	if err != nil {
		return nil, err
	}
	patched, err := decoded.Apply(raw)
	if err != nil {
		return nil, err
	}
	var pod corev1.Pod
	if err := json.Unmarshal(patched, &pod); err != nil {
		return nil, err
	}
	return &pod, nil
}
