// consul-validate puts meshc's rendered Consul objects and pods through consul-k8s
// v2.0.3's own code, and the Consul code it builds against:
//
//	consul-validate validate < objects.yaml   # JSON report on stdout
//	consul-validate inject < request.json     # the injected Pod on stdout
//
// validate decodes every consul.hashicorp.com resource strictly into its
// consul-k8s type, runs its Validate (Consul CE: no namespaces, no
// partitions), turns it into the config entry consul-k8s writes (ToConsul),
// and writes that the way a Consul server does: DecodeConfigEntry, Normalize,
// Validate, then a state store's EnsureConfigEntry (which also checks the
// discovery-chain graph and the mesh's permissive-mTLS setting), in the
// order of meshc's sync waves. It reads each entry back and asks consul-k8s
// whether it matches the resource (the config-entries controller rewrites an
// entry that does not), and compiles the discovery chain of every service
// with Consul's compiler. Nothing is sent anywhere.
//
// inject runs consul-k8s's connect injector (webhook.MeshWebhook.Handle) with
// the Helm chart's default settings on one Pod and prints the Pod the API
// server would store.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/hashicorp/consul-k8s/control-plane/api/common"
	"github.com/hashicorp/consul-k8s/control-plane/api/v1alpha1"
	"github.com/hashicorp/consul/agent/consul/discoverychain"
	"github.com/hashicorp/consul/agent/consul/state"
	"github.com/hashicorp/consul/agent/structs"
	capi "github.com/hashicorp/consul/api"
	"sigs.k8s.io/yaml"
)

const datacenter = "dc1"

// Consul CE with the chart's defaults: no namespaces, no admin partitions.
var consulMeta = common.ConsulMeta{}

// The kinds meshc renders or judges, and the order a sync applies them in.
var kinds = map[string]struct {
	wave int
	new  func() common.ConfigEntryResource
}{
	"Mesh":              {0, func() common.ConfigEntryResource { return &v1alpha1.Mesh{} }},
	"ProxyDefaults":     {0, func() common.ConfigEntryResource { return &v1alpha1.ProxyDefaults{} }},
	"ServiceDefaults":   {1, func() common.ConfigEntryResource { return &v1alpha1.ServiceDefaults{} }},
	"ServiceIntentions": {1, func() common.ConfigEntryResource { return &v1alpha1.ServiceIntentions{} }},
	"ServiceResolver":   {2, func() common.ConfigEntryResource { return &v1alpha1.ServiceResolver{} }},
	"ServiceSplitter":   {2, func() common.ConfigEntryResource { return &v1alpha1.ServiceSplitter{} }},
	"ServiceRouter":     {2, func() common.ConfigEntryResource { return &v1alpha1.ServiceRouter{} }},
}

type objectResult struct {
	Kind      string   `json:"kind"`
	Namespace string   `json:"namespace"`
	Name      string   `json:"name"`
	Errors    []string `json:"errors"`
}

type chainResult struct {
	Protocol string                          `json:"protocol,omitempty"`
	Chain    *structs.CompiledDiscoveryChain `json:"chain,omitempty"`
	Error    string                          `json:"error,omitempty"`
}

type report struct {
	Objects []objectResult         `json:"objects"`
	Chains  map[string]chainResult `json:"chains"`
}

type item struct {
	wave     int
	index    int
	resource common.ConfigEntryResource
	result   *objectResult
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: consul-validate validate|inject < input")
		os.Exit(2)
	}
	input, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(err)
	}
	var out any
	switch os.Args[1] {
	case "validate":
		out, err = validate(input)
	case "inject":
		out, err = inject(input)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fail(err)
	}
	encoder := json.NewEncoder(os.Stdout)
	encoder.SetIndent("", "  ")
	if err := encoder.Encode(out); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "consul-validate:", err)
	os.Exit(2)
}

// documents splits a YAML stream into its documents, as JSON.
func documents(input []byte) ([][]byte, error) {
	var docs [][]byte
	for _, part := range bytes.Split(append([]byte("\n"), input...), []byte("\n---")) {
		if len(bytes.TrimSpace(part)) == 0 {
			continue
		}
		doc, err := yaml.YAMLToJSON(part)
		if err != nil {
			return nil, err
		}
		if string(doc) != "null" {
			docs = append(docs, doc)
		}
	}
	return docs, nil
}

func validate(input []byte) (*report, error) {
	docs, err := documents(input)
	if err != nil {
		return nil, err
	}
	rep := &report{Objects: []objectResult{}, Chains: map[string]chainResult{}}
	var results []*objectResult
	var items []item
	for i, doc := range docs {
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := json.Unmarshal(doc, &head); err != nil {
			return nil, err
		}
		if !strings.HasPrefix(head.APIVersion, "consul.hashicorp.com/") {
			continue
		}
		result := &objectResult{Kind: head.Kind, Errors: []string{}}
		results = append(results, result)
		kind, ok := kinds[head.Kind]
		if !ok {
			result.Errors = append(result.Errors, "kind not validated by consul-validate")
			continue
		}
		resource := kind.new()
		decoder := json.NewDecoder(bytes.NewReader(doc))
		decoder.DisallowUnknownFields()
		if err := decoder.Decode(resource); err != nil {
			result.Errors = append(result.Errors, "decoding: "+err.Error())
			continue
		}
		result.Namespace, result.Name = resource.GetNamespace(), resource.GetName()
		resource.DefaultNamespaceFields(consulMeta)
		if err := resource.Validate(consulMeta); err != nil {
			result.Errors = append(result.Errors, "consul-k8s: "+err.Error())
		}
		items = append(items, item{kind.wave, i, resource, result})
	}
	sort.SliceStable(items, func(a, b int) bool { return items[a].wave < items[b].wave })

	store := state.NewStateStore(nil)
	var index uint64
	services := map[string]bool{}
	for _, it := range items {
		if len(it.result.Errors) > 0 {
			continue
		}
		entry, err := serverEntry(it.resource.ToConsul(datacenter))
		if err != nil {
			it.result.Errors = append(it.result.Errors, "consul: "+err.Error())
			continue
		}
		index++
		if err := store.EnsureConfigEntry(index, entry); err != nil {
			it.result.Errors = append(it.result.Errors, "consul state store: "+err.Error())
			continue
		}
		_, stored, err := store.ConfigEntry(nil, entry.GetKind(), entry.GetName(), nil)
		if err != nil || stored == nil {
			it.result.Errors = append(it.result.Errors, fmt.Sprintf("reading back: %v", err))
			continue
		}
		readBack, err := apiEntry(stored)
		if err != nil {
			it.result.Errors = append(it.result.Errors, "reading back: "+err.Error())
		} else if !it.resource.MatchesConsul(readBack) {
			it.result.Errors = append(it.result.Errors,
				"consul-k8s: the stored entry does not match the resource (MatchesConsul), so the controller would rewrite it")
		}
		switch entry.GetKind() {
		case structs.ServiceDefaults, structs.ServiceResolver, structs.ServiceSplitter, structs.ServiceRouter:
			services[entry.GetName()] = true
		}
	}
	for name := range services {
		_, entries, err := store.ReadDiscoveryChainConfigEntries(nil, name, nil)
		if err != nil {
			rep.Chains[name] = chainResult{Error: err.Error()}
			continue
		}
		chain, err := discoverychain.Compile(discoverychain.CompileRequest{
			ServiceName:           name,
			EvaluateInNamespace:   "default",
			EvaluateInPartition:   "default",
			EvaluateInDatacenter:  datacenter,
			EvaluateInTrustDomain: "11111111-2222-3333-4444-555555555555.consul",
			Entries:               entries,
		})
		if err != nil {
			rep.Chains[name] = chainResult{Error: err.Error()}
			continue
		}
		rep.Chains[name] = chainResult{Protocol: chain.Protocol, Chain: chain}
	}
	for _, result := range results {
		rep.Objects = append(rep.Objects, *result)
	}
	return rep, nil
}

// serverEntry is what a Consul server makes of an entry consul-k8s writes: the
// HTTP API's decoding (agent/config_endpoint.go), Normalize and Validate
// (agent/consul/config_endpoint.go, Apply).
func serverEntry(entry capi.ConfigEntry) (structs.ConfigEntry, error) {
	body, err := json.Marshal(entry)
	if err != nil {
		return nil, err
	}
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, err
	}
	decoded, err := structs.DecodeConfigEntry(raw)
	if err != nil {
		return nil, err
	}
	if err := decoded.Normalize(); err != nil {
		return nil, err
	}
	if err := decoded.Validate(); err != nil {
		return nil, err
	}
	return decoded, nil
}

// apiEntry is the stored entry as the HTTP API returns it to consul-k8s.
func apiEntry(entry structs.ConfigEntry) (capi.ConfigEntry, error) {
	body, err := json.Marshal(entry)
	if err != nil {
		return nil, err
	}
	decoded, err := capi.DecodeConfigEntryFromJSON(body)
	if err != nil {
		return nil, err
	}
	if decoded == nil {
		return nil, errors.New("no entry")
	}
	return decoded, nil
}

