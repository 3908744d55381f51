package k8s

import (
	"github.com/swavgo/swav/train/xla"
	"os"
	"regexp"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/swavgo/swav/configs"
)

// TestGPUTrainingJob: the training Job asks for GPUs through the NVIDIA
// device plugin (nvidia.com/gpu, as a limit), names the PJRT plugin it
// mounts read-only, runs one pod (several do not train one model) and a job
// of the ConfigMap that trains on the xla backend over every device with
// one rank.
func TestGPUTrainingJob(t *testing.T) {
	m := manifests(t)
	jobs := map[string]string{}
	for _, o := range m["ConfigMap"] {
		for name, text := range o.(*corev1.ConfigMap).Data {
			jobs[name] = text
		}
	}
	found := 0
	for _, o := range m["Job"] {
		j := o.(*batchv1.Job)
		c := j.Spec.Template.Spec.Containers[0]
		gpus, ok := c.Resources.Limits["nvidia.com/gpu"]
		if !ok {
			continue
		}
		found++
		if gpus.Value() < 1 {
			t.Errorf("Job %s: nvidia.com/gpu limit %s", j.Name, gpus.String())
		}
		if j.Spec.Parallelism == nil || *j.Spec.Parallelism != 1 {
			t.Errorf("Job %s: parallelism must be 1 (several pods do not train one model)", j.Name)
		}
		plugin := ""
		for _, e := range c.Env {
			if e.Name == "PJRT_PLUGIN" {
				plugin = e.Value
			}
		}
		mounted := false
		for _, vm := range c.VolumeMounts {
			if plugin != "" && strings.HasPrefix(plugin, strings.TrimSuffix(vm.MountPath, "/")+"/") && vm.ReadOnly {
				mounted = true
			}
		}
		if !mounted {
			t.Errorf("Job %s: PJRT_PLUGIN %q is not on a read-only volume mount", j.Name, plugin)
		}
		if len(c.Args) != 2 || c.Args[0] != "run" || !strings.HasPrefix(c.Args[1], "/config/") {
			t.Fatalf("Job %s: args %v, want run /config/<job>", j.Name, c.Args)
		}
		name := strings.TrimPrefix(c.Args[1], "/config/")
		job, err := configs.LoadBytes(name, []byte(jobs[name]), nil)
		if err != nil {
			t.Fatalf("Job %s: %s: %v", j.Name, name, err)
		}
		if job.Train.Backend != "xla" || xla.SettingsOf(&job.Train).Devices != 0 || job.Data.WorldSize > 1 {
			t.Errorf("Job %s: %s trains on %q with %d devices and world size %d; want xla, all devices, one rank",
				j.Name, name, job.Train.Backend, xla.SettingsOf(&job.Train).Devices, job.Data.WorldSize)
		}
	}
	if found == 0 {
		t.Fatal("no Job asks for nvidia.com/gpu")
	}
}

// TestManifestsNameTheImageMakeBuilds: every container runs the image `make
// image` builds by default (the Makefile's IMAGE).
func TestManifestsNameTheImageMakeBuilds(t *testing.T) {
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	match := regexp.MustCompile(`(?m)^IMAGE \?= (\S+)$`).FindSubmatch(mk)
	if match == nil {
		t.Fatal("the Makefile sets no IMAGE ?= default")
	}
	image := string(match[1])
	var pods []corev1.PodSpec
	for _, o := range manifests(t)["Job"] {
		pods = append(pods, o.(*batchv1.Job).Spec.Template.Spec)
	}
	for _, o := range manifests(t)["CronJob"] {
		pods = append(pods, o.(*batchv1.CronJob).Spec.JobTemplate.Spec.Template.Spec)
	}
	for _, p := range pods {
		for _, c := range p.Containers {
			if c.Image != image {
				t.Errorf("container %s runs %s, want %s (make image)", c.Name, c.Image, image)
			}
		}
	}
}
