// Package k8s holds the Kubernetes manifests of deploy/k8s and their test:
// every manifest decodes strictly into the k8s.io/api types (an unknown or
// misspelled field is an error) and keeps the properties the README promises.
package k8s

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/swavgo/swav/configs"
)

// decodeStrict decodes one YAML document into obj, refusing unknown fields.
func decodeStrict(doc []byte, obj any) error {
	js, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	return dec.Decode(obj)
}

// manifests returns every document of every YAML file here by kind.
func manifests(t *testing.T) map[string][]any {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	out := map[string][]any{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range bytes.Split(raw, []byte("\n---")) {
			var head struct{ Kind, APIVersion string }
			if err := yaml.Unmarshal(doc, &head); err != nil || head.Kind == "" {
				t.Fatalf("%s doc %d: no kind (%v)", f, i, err)
			}
			var obj any
			switch head.Kind {
			case "ConfigMap":
				obj = &corev1.ConfigMap{}
			case "CronJob":
				obj = &batchv1.CronJob{}
			case "Job":
				obj = &batchv1.Job{}
			default:
				t.Fatalf("%s: unexpected kind %s", f, head.Kind)
			}
			if err := decodeStrict(doc, obj); err != nil {
				t.Fatalf("%s doc %d (%s): %v", f, i, head.Kind, err)
			}
			out[head.Kind] = append(out[head.Kind], obj)
		}
	}
	return out
}

func TestManifests(t *testing.T) {
	m := manifests(t)
	var pods []*corev1.PodSpec
	var jobs []*batchv1.JobSpec
	for _, o := range m["CronJob"] {
		cj := o.(*batchv1.CronJob)
		if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
			t.Errorf("CronJob %s: concurrencyPolicy %q, want Forbid", cj.Name, cj.Spec.ConcurrencyPolicy)
		}
		js := &cj.Spec.JobTemplate.Spec
		if js.BackoffLimit == nil || js.ActiveDeadlineSeconds == nil {
			t.Errorf("CronJob %s: needs backoffLimit and activeDeadlineSeconds", cj.Name)
		}
		jobs, pods = append(jobs, js), append(pods, &js.Template.Spec)
	}
	indexed := 0
	for _, o := range m["Job"] {
		j := o.(*batchv1.Job)
		if j.Spec.CompletionMode != nil && *j.Spec.CompletionMode == batchv1.IndexedCompletion {
			indexed++
			world := ""
			for _, e := range j.Spec.Template.Spec.Containers[0].Env {
				if e.Name == "WORLD_SIZE" {
					world = e.Value
				}
			}
			if j.Spec.Completions == nil || world != fmt.Sprint(*j.Spec.Completions) {
				t.Errorf("Indexed Job %s: WORLD_SIZE %q must equal completions", j.Name, world)
			}
		}
		jobs, pods = append(jobs, &j.Spec), append(pods, &j.Spec.Template.Spec)
	}
	if len(m["CronJob"]) == 0 || indexed == 0 {
		t.Fatalf("want a CronJob and an Indexed Job, have %d CronJobs and %d Indexed Jobs", len(m["CronJob"]), indexed)
	}
	for _, js := range jobs {
		pfp := js.PodFailurePolicy
		if pfp == nil {
			t.Fatal("a Job without podFailurePolicy")
		}
		failsFast, ignoresDisruption := false, false
		for _, r := range pfp.Rules {
			if r.Action == batchv1.PodFailurePolicyActionFailJob && r.OnExitCodes != nil && slices.Contains(r.OnExitCodes.Values, 2) && slices.Contains(r.OnExitCodes.Values, 3) {
				failsFast = true
			}
			if r.Action == batchv1.PodFailurePolicyActionIgnore && len(r.OnPodConditions) > 0 && r.OnPodConditions[0].Type == corev1.DisruptionTarget {
				ignoresDisruption = true
			}
		}
		if !failsFast || !ignoresDisruption {
			t.Errorf("podFailurePolicy must fail the Job on exit codes 2 and 3 and ignore disruptions: %+v", pfp.Rules)
		}
	}
	for _, p := range pods {
		if p.SecurityContext == nil || p.SecurityContext.RunAsNonRoot == nil || !*p.SecurityContext.RunAsNonRoot {
			t.Error("a pod without runAsNonRoot: true")
		}
		if p.RestartPolicy != corev1.RestartPolicyNever {
			t.Errorf("restartPolicy %q: podFailurePolicy needs Never", p.RestartPolicy)
		}
		for _, c := range p.Containers {
			if _, ok := c.Resources.Requests[corev1.ResourceCPU]; !ok {
				t.Errorf("container %s: no CPU request", c.Name)
			}
			if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok {
				t.Errorf("container %s: no memory limit", c.Name)
			}
			for _, e := range c.Env {
				if strings.Contains(e.Name, "SECRET") || strings.Contains(e.Name, "ACCESS_KEY") {
					t.Errorf("container %s: %s set as a literal; credentials come from a Secret", c.Name, e.Name)
				}
			}
			if len(c.EnvFrom) == 0 || c.EnvFrom[0].SecretRef == nil {
				t.Errorf("container %s: S3 credentials must come from a Secret (envFrom secretRef)", c.Name)
			}
		}
	}
	// The job YAML the ConfigMap holds is a valid job for this binary.
	for _, o := range m["ConfigMap"] {
		cm := o.(*corev1.ConfigMap)
		for name, text := range cm.Data {
			if _, err := configs.LoadBytes(cm.Name+"/"+name, []byte(text), nil); err != nil {
				t.Errorf("ConfigMap %s: %s: %v", cm.Name, name, err)
			}
		}
	}
}
