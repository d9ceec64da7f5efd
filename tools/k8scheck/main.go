// k8scheck validates Kubernetes manifests against the real API types (k8s.io/api), strictly:
// every document must be a known kind, decode without unknown or duplicate fields, and pass the
// checks below. It is the schema-aware linter for deploy/kubernetes/, runnable offline once its
// modules are fetched (kubeconform and kubeval need schemas from the internet).
//
//	go run ./tools/k8scheck deploy/kubernetes/sluice.yaml
package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

type meta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: k8scheck FILE...")
		os.Exit(2)
	}
	problems := 0
	for _, file := range os.Args[1:] {
		for _, p := range check(file) {
			fmt.Printf("%s: %s\n", file, p)
			problems++
		}
	}
	if problems > 0 {
		os.Exit(1)
	}
}

func check(file string) []string {
	data, err := os.ReadFile(file)
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	reader := k8syaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for i := 0; ; i++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return append(out, fmt.Sprintf("document %d: %v", i, err))
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var m meta
		if err := yaml.Unmarshal(doc, &m); err != nil {
			out = append(out, fmt.Sprintf("document %d: %v", i, err))
			continue
		}
		where := fmt.Sprintf("document %d (%s)", i, m.Kind)
		var obj any
		switch m.APIVersion + "/" + m.Kind {
		case "v1/ConfigMap":
			obj = &corev1.ConfigMap{}
		case "v1/ServiceAccount":
			obj = &corev1.ServiceAccount{}
		case "apps/v1/DaemonSet":
			obj = &appsv1.DaemonSet{}
		default:
			out = append(out, fmt.Sprintf("%s: unexpected apiVersion/kind %s/%s", where, m.APIVersion, m.Kind))
			continue
		}
		// Strict: a misspelt or misplaced field is an error, as the API server's strict validation.
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			out = append(out, fmt.Sprintf("%s: %v", where, err))
			continue
		}
		if ds, ok := obj.(*appsv1.DaemonSet); ok {
			for _, p := range checkDaemonSet(ds) {
				out = append(out, fmt.Sprintf("%s %s: %s", where, ds.Name, p))
			}
		}
	}
	return out
}

// checkDaemonSet: what the API server would refuse, and what an agent must not do.
func checkDaemonSet(ds *appsv1.DaemonSet) []string {
	var out []string
	sel := ds.Spec.Selector
	if sel == nil || len(sel.MatchLabels) == 0 {
		out = append(out, "spec.selector.matchLabels is required")
	} else {
		for k, v := range sel.MatchLabels {
			if ds.Spec.Template.Labels[k] != v {
				out = append(out, fmt.Sprintf("selector %s=%s does not match the pod template's labels", k, v))
			}
		}
	}
	volumes := map[string]bool{}
	for _, v := range ds.Spec.Template.Spec.Volumes {
		volumes[v.Name] = true
	}
	if len(ds.Spec.Template.Spec.Containers) == 0 {
		out = append(out, "no container")
	}
	for _, c := range ds.Spec.Template.Spec.Containers {
		if c.Image == "" {
			out = append(out, c.Name+": no image")
		}
		for _, m := range c.VolumeMounts {
			if !volumes[m.Name] {
				out = append(out, fmt.Sprintf("%s: volumeMount %s names no volume", c.Name, m.Name))
			}
		}
		sc := c.SecurityContext
		if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
			out = append(out, c.Name+": securityContext.runAsNonRoot must be true")
		}
		if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			out = append(out, c.Name+": securityContext.allowPrivilegeEscalation must be false")
		}
		if sc == nil || sc.Capabilities == nil || !dropsAll(sc.Capabilities.Drop) {
			out = append(out, c.Name+": securityContext.capabilities.drop must hold ALL")
		}
		for _, p := range c.Ports {
			if p.HostPort != 0 && p.Protocol == "" {
				out = append(out, fmt.Sprintf("%s: port %s: give the protocol of a hostPort", c.Name, p.Name))
			}
		}
	}
	return out
}

func dropsAll(caps []corev1.Capability) bool {
	for _, c := range caps {
		if strings.EqualFold(string(c), "ALL") {
			return true
		}
	}
	return false
}

