package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	k8sjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/porterkit/bootstrap/bootstrap/arch"
	"github.com/porterkit/bootstrap/bootstrap/k8sjob"
)

// k8sManifests are the objects of one k8s-job stream, decoded.
type k8sManifests struct {
	cm  *corev1.ConfigMap
	pvc *corev1.PersistentVolumeClaim
	job *batchv1.Job
}

// decodeK8s decodes every document of a k8s-job stream strictly (an
// unknown or duplicate field is an error, as kubectl apply
// --validate=strict makes it) into the k8s.io/api types its apiVersion and
// kind name, and checks the stream holds a ConfigMap, at most one claim
// and a Job, in creation order.
func decodeK8s(t *testing.T, stream string) k8sManifests {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := batchv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	ser := k8sjson.NewSerializerWithOptions(k8sjson.DefaultMetaFactory, scheme, scheme,
		k8sjson.SerializerOptions{Yaml: true, Strict: true})
	var m k8sManifests
	var kinds []string
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(stream)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("read YAML stream: %v", err)
		}
		obj, gvk, err := ser.Decode(doc, nil, nil)
		if err != nil {
			t.Fatalf("strict decode:\n%s\n%v", doc, err)
		}
		kinds = append(kinds, gvk.Kind)
		switch o := obj.(type) {
		case *corev1.ConfigMap:
			m.cm = o
		case *corev1.PersistentVolumeClaim:
			m.pvc = o
		case *batchv1.Job:
			m.job = o
		default:
			t.Fatalf("unexpected object %s", gvk)
		}
	}
	if want := []string{"ConfigMap", "PersistentVolumeClaim", "Job"}; !equal(kinds, want) && !equal(kinds, []string{"ConfigMap", "Job"}) {
		t.Fatalf("objects %v, want %v (the claim may be missing)", kinds, want)
	}
	return m
}

// k8sFixture copies testdata/k8s and returns its directory.
func k8sFixture(t *testing.T) string {
	t.Helper()
	return copyFixture(t, "k8s")
}

// k8sJob runs `bootstrap k8s-job` in dir and decodes what it wrote.
func k8sJob(t *testing.T, dir string, args ...string) k8sManifests {
	t.Helper()
	r := bs(t, dir, append([]string{"k8s-job"}, args...)...)
	if r.code != 0 {
		t.Fatalf("k8s-job %v: exit %d\n%s", args, r.code, r.stderr)
	}
	return decodeK8s(t, r.stdout)
}

// TestK8sJobTargets writes the Job of the patched fixture (a recipe that
// extends another and patches with a file and a quilt series outside its
// directory) for every target and checks, on the strictly decoded
// objects: the node selector and toleration, the failure policy, the
// claim and its mounts, the container's command, the memory request, and
// that the ConfigMap's volume puts back every file the run reads, byte for
// byte, at the path the recipe's relative paths expect.
func TestK8sJobTargets(t *testing.T) {
	dir := k8sFixture(t)
	tests := []struct {
		target   string
		selector map[string]string
	}{
		{"amd64", map[string]string{"kubernetes.io/arch": "amd64"}},
		{"arm64", map[string]string{"kubernetes.io/arch": "arm64"}},
		{"ppc64le", map[string]string{"kubernetes.io/arch": "ppc64le"}},
		{"s390x", map[string]string{"kubernetes.io/arch": "s390x"}},
		{"riscv64", map[string]string{"kubernetes.io/arch": "riscv64"}},
		// kubernetes.io/arch is the kubelet's GOARCH: "arm" for both, told
		// apart by our own label.
		{"armhf", map[string]string{"kubernetes.io/arch": "arm", k8sjob.VariantLabel: "armhf"}},
		{"armel", map[string]string{"kubernetes.io/arch": "arm", k8sjob.VariantLabel: "armel"}},
		// No kubelet is built for 386: amd64 nodes that run 32-bit x86.
		{"386", map[string]string{"kubernetes.io/arch": "amd64", k8sjob.VariantLabel: "386"}},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			m := k8sJob(t, dir, "recipes/patched.yaml", "--target", tt.target, "--image", "registry.example/bootstrap:test")
			job, pod := m.job, m.job.Spec.Template.Spec
			if !reflect.DeepEqual(pod.NodeSelector, tt.selector) {
				t.Errorf("nodeSelector %v, want %v", pod.NodeSelector, tt.selector)
			}
			tol := corev1.Toleration{Key: "kubernetes.io/arch", Operator: corev1.TolerationOpEqual, Value: tt.selector["kubernetes.io/arch"], Effect: corev1.TaintEffectNoSchedule}
			if len(pod.Tolerations) != 1 || pod.Tolerations[0] != tol {
				t.Errorf("tolerations %+v, want [%+v]", pod.Tolerations, tol)
			}
			checkFailurePolicy(t, job)
			checkNames(t, m)
			wantCmd := []string{"bootstrap", "run", "/etc/bootstrap/recipe/recipes/patched.yaml", "--target", tt.target,
				"--workdir", "/var/lib/bootstrap/work/k8s-patched-" + tt.target, "--cache", "/var/lib/bootstrap/cache", "--plain"}
			c := pod.Containers
			if len(c) != 1 || !equal(c[0].Command, wantCmd) {
				t.Fatalf("containers %+v, want one running %q", c, wantCmd)
			}
			if c[0].Image != "registry.example/bootstrap:test" || c[0].Name != "bootstrap" {
				t.Errorf("container %q image %q", c[0].Name, c[0].Image)
			}
			if q := c[0].Resources.Requests[corev1.ResourceMemory]; q.Cmp(resource.MustParse("3Gi")) != 0 || len(c[0].Resources.Limits) != 0 {
				t.Errorf("resources %+v, want a 3Gi memory request (host.memory: 3G) and no limit", c[0].Resources)
			}
			if sc := c[0].SecurityContext; sc == nil || sc.Privileged == nil || !*sc.Privileged {
				t.Errorf("container not privileged: the sandbox makes its own namespaces")
			}
			if a := pod.AutomountServiceAccountToken; a == nil || *a {
				t.Errorf("automountServiceAccountToken %v, want false", a)
			}
			checkClaim(t, m, "bootstrap-k8s-patched-"+tt.target+"-work", "12Gi")
			got := checkRecipeVolume(t, m, dir)
			want := []string{"patches/greet/1.0/0001-louder.patch", "patches/greet/quilt/0001-notes.patch",
				"patches/greet/quilt/series", "recipes/base.yaml", "recipes/patched.yaml"}
			if !equal(got, want) {
				t.Errorf("ConfigMap ships %q, want %q", got, want)
			}
		})
	}
}

// checkFailurePolicy checks the Job's retry rules: every attempt a new
// pod, node disruptions ignored, exit 2 fatal, no replacement before the
// old pod is gone.
func checkFailurePolicy(t *testing.T, job *batchv1.Job) {
	t.Helper()
	pod := job.Spec.Template.Spec
	if pod.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("restartPolicy %q, want Never", pod.RestartPolicy)
	}
	if b := job.Spec.BackoffLimit; b == nil || *b != 3 {
		t.Errorf("backoffLimit %v, want 3", b)
	}
	if p := job.Spec.PodReplacementPolicy; p == nil || *p != batchv1.Failed {
		t.Errorf("podReplacementPolicy %v, want Failed", p)
	}
	pfp := job.Spec.PodFailurePolicy
	if pfp == nil || len(pfp.Rules) != 2 {
		t.Fatalf("podFailurePolicy %+v, want two rules", pfp)
	}
	ignore, fail := pfp.Rules[0], pfp.Rules[1]
	if ignore.Action != batchv1.PodFailurePolicyActionIgnore || len(ignore.OnPodConditions) != 1 ||
		ignore.OnPodConditions[0].Type != corev1.DisruptionTarget || ignore.OnPodConditions[0].Status != corev1.ConditionTrue || ignore.OnExitCodes != nil {
		t.Errorf("first rule %+v, want Ignore on DisruptionTarget=True", ignore)
	}
	if fail.Action != batchv1.PodFailurePolicyActionFailJob || fail.OnExitCodes == nil || fail.OnExitCodes.ContainerName == nil ||
		*fail.OnExitCodes.ContainerName != "bootstrap" || fail.OnExitCodes.Operator != batchv1.PodFailurePolicyOnExitCodesOpIn ||
		!slices.Equal(fail.OnExitCodes.Values, []int32{2}) {
		t.Errorf("second rule %+v, want FailJob on exit code 2 of container bootstrap", fail)
	}
}

// checkNames checks that every name, label and key would pass the API
// server's syntax checks.
func checkNames(t *testing.T, m k8sManifests) {
	t.Helper()
	if errs := validation.IsDNS1123Label(m.job.Name); len(errs) > 0 {
		t.Errorf("Job name %q: %v", m.job.Name, errs)
	}
	for _, n := range []string{m.cm.Name, m.job.Spec.Template.Spec.Volumes[0].PersistentVolumeClaim.ClaimName} {
		if errs := validation.IsDNS1123Subdomain(n); len(errs) > 0 {
			t.Errorf("name %q: %v", n, errs)
		}
	}
	for k, v := range m.job.Spec.Template.Labels {
		if errs := append(validation.IsQualifiedName(k), validation.IsValidLabelValue(v)...); len(errs) > 0 {
			t.Errorf("label %s=%s: %v", k, v, errs)
		}
	}
	for k := range m.cm.Data {
		if errs := validation.IsConfigMapKey(k); len(errs) > 0 {
			t.Errorf("ConfigMap key %q: %v", k, errs)
		}
	}
}

// checkClaim checks the work dir's claim (when the stream has one) and
// that the pod mounts it, its data directory as the work dir and cache's
// home and its keys directory below HOME.
func checkClaim(t *testing.T, m k8sManifests, name, size string) {
	t.Helper()
	pod := m.job.Spec.Template.Spec
	var claim string
	for _, v := range pod.Volumes {
		if v.PersistentVolumeClaim != nil {
			claim = v.PersistentVolumeClaim.ClaimName
		}
	}
	if claim != name {
		t.Errorf("pod mounts claim %q, want %q", claim, name)
	}
	if m.pvc != nil {
		if m.pvc.Name != name || !slices.Equal(m.pvc.Spec.AccessModes, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}) {
			t.Errorf("claim %q modes %v, want %q ReadWriteOnce", m.pvc.Name, m.pvc.Spec.AccessModes, name)
		}
		if q := m.pvc.Spec.Resources.Requests[corev1.ResourceStorage]; q.Cmp(resource.MustParse(size)) != 0 {
			t.Errorf("claim size %s, want %s", q.String(), size)
		}
	}
	mounts := map[string]string{}
	for _, vm := range pod.Containers[0].VolumeMounts {
		mounts[vm.MountPath] = vm.Name + ":" + vm.SubPath
	}
	if mounts["/var/lib/bootstrap"] != "work:data" || mounts["/root/.config/bootstrap/keys"] != "work:keys" {
		t.Errorf("mounts %v: want the claim's data at /var/lib/bootstrap and keys below HOME", mounts)
	}
}

// checkRecipeVolume checks the ConfigMap and the volume made of it: each
// item's content equals the fixture's file at the item's path. It returns
// the paths, sorted.
func checkRecipeVolume(t *testing.T, m k8sManifests, dir string) []string {
	t.Helper()
	if m.cm.Immutable == nil || !*m.cm.Immutable {
		t.Errorf("ConfigMap not immutable")
	}
	var paths []string
	for path, data := range recipeVolume(t, m) {
		paths = append(paths, path)
		want, err := os.ReadFile(filepath.Join(dir, path))
		if err != nil {
			t.Errorf("ConfigMap ships %s, which the fixture does not have: %v", path, err)
			continue
		}
		if !bytes.Equal(data, want) {
			t.Errorf("%s differs in the ConfigMap:\n%q\nwant\n%q", path, data, want)
		}
	}
	slices.Sort(paths)
	return paths
}

// recipeVolume is what the pod sees under /etc/bootstrap/recipe: each
// item of the ConfigMap volume, by path.
func recipeVolume(t *testing.T, m k8sManifests) map[string][]byte {
	t.Helper()
	var vol *corev1.ConfigMapVolumeSource
	for _, v := range m.job.Spec.Template.Spec.Volumes {
		if v.ConfigMap != nil {
			vol = v.ConfigMap
		}
	}
	if vol == nil || vol.Name != m.cm.Name {
		t.Fatalf("no volume of ConfigMap %s", m.cm.Name)
	}
	mounted := false
	for _, vm := range m.job.Spec.Template.Spec.Containers[0].VolumeMounts {
		mounted = mounted || vm.MountPath == "/etc/bootstrap/recipe" && vm.ReadOnly
	}
	if !mounted {
		t.Errorf("the recipe volume is not mounted read-only at /etc/bootstrap/recipe")
	}
	files := map[string][]byte{}
	for _, it := range vol.Items {
		data, ok := m.cm.Data[it.Key]
		bin, isBin := m.cm.BinaryData[it.Key]
		switch {
		case ok:
			files[it.Path] = []byte(data)
		case isBin:
			files[it.Path] = bin
		default:
			t.Errorf("item %s names key %s, which the ConfigMap lacks", it.Path, it.Key)
		}
	}
	if len(vol.Items) != len(m.cm.Data)+len(m.cm.BinaryData) {
		t.Errorf("%d items for %d keys", len(vol.Items), len(m.cm.Data)+len(m.cm.BinaryData))
	}
	return files
}

// materialise lays out the pod's view of the Job here: the recipe
// volume's files under root/recipe, the claim as root/data and
// root/keys. It returns the container's command and environment with the
// pod's paths replaced by these.
func materialise(t *testing.T, m k8sManifests, root string) (args, env []string) {
	t.Helper()
	for path, data := range recipeVolume(t, m) {
		p := filepath.Join(root, "recipe", path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o444); err != nil {
			t.Fatal(err)
		}
	}
	r := strings.NewReplacer("/etc/bootstrap/recipe", filepath.Join(root, "recipe"),
		"/var/lib/bootstrap", filepath.Join(root, "data"), "/root/.config/bootstrap/keys", filepath.Join(root, "home/.config/bootstrap/keys"),
		"/root", filepath.Join(root, "home"))
	c := m.job.Spec.Template.Spec.Containers[0]
	for _, a := range c.Command {
		args = append(args, r.Replace(a))
	}
	for _, e := range c.Env {
		env = append(env, e.Name+"="+r.Replace(e.Value))
	}
	return args, env
}

// TestK8sJobCommandRuns runs the Job's own command line with the real
// binary on this host, on the files as the ConfigMap's volume lays them
// out, twice: the first pod builds, the second (a pod rescheduled onto the
// same claim) finds every step done and runs nothing. The patched
// fixture's plan is computed the same way, which reads every patch the
// series names: nothing the run needs is missing from the ConfigMap.
func TestK8sJobCommandRuns(t *testing.T) {
	host, err := arch.DetectHost()
	if err != nil {
		t.Fatal(err)
	}
	dir := k8sFixture(t)
	m := k8sJob(t, dir, "recipes/hello.yaml", "--target", host.Target.Name, "--image", "img")
	pod := t.TempDir()
	args, env := materialise(t, m, pod)
	if args[0] != "bootstrap" || args[1] != "run" {
		t.Fatalf("command %q is not bootstrap run", args)
	}
	r := bsEnv(t, pod, env, args[1:]...)
	if r.code != 0 {
		t.Fatalf("first pod: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if got := started(r.stdout); !equal(got, []string{"hello:say"}) {
		t.Errorf("first pod started %v, want [hello:say]\n%s", got, r.stdout)
	}
	r = bsEnv(t, pod, env, args[1:]...)
	if r.code != 0 || len(started(r.stdout)) != 0 {
		t.Errorf("second pod: exit %d, started %v; want 0 and nothing\n%s%s", r.code, started(r.stdout), r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(pod, "home/.config/bootstrap/keys")); err != nil {
		t.Errorf("the signing key is not in the claim's keys directory: %v", err)
	}

	m = k8sJob(t, dir, "recipes/patched.yaml", "--target", host.Target.Name, "--image", "img")
	pod = t.TempDir()
	args, env = materialise(t, m, pod)
	plan := append([]string{"plan"}, args[2:]...)
	plan = slices.DeleteFunc(plan, func(a string) bool { return a == "--plain" })
	if r := bsEnv(t, pod, env, plan...); r.code != 0 || !strings.Contains(r.stdout, "greet:patch") {
		t.Errorf("plan of the shipped patched recipe: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestK8sJobOptions checks the flags that change the objects: an existing
// claim, a namespace, a storage size and class, -j and run arguments
// after --, a backoff limit, --env (which ${{ env.NAME }} needs), and -o
// FILE writing what standard output gets.
func TestK8sJobOptions(t *testing.T) {
	dir := k8sFixture(t)
	m := k8sJob(t, dir, "recipes/hello.yaml", "--target", "arm64", "--image", "img", "--pvc", "shared-work",
		"--namespace", "porting", "-j", "4", "--backoff-limit", "0", "--", "--to", "hello:say", "--offline")
	if m.pvc != nil {
		t.Errorf("a claim was written although --pvc names one")
	}
	checkClaim(t, m, "shared-work", "")
	for _, ns := range []string{m.cm.Namespace, m.job.Namespace} {
		if ns != "porting" {
			t.Errorf("namespace %q, want porting", ns)
		}
	}
	if b := m.job.Spec.BackoffLimit; b == nil || *b != 0 {
		t.Errorf("backoffLimit %v, want 0", b)
	}
	cmd := m.job.Spec.Template.Spec.Containers[0].Command
	if tail := cmd[len(cmd)-5:]; !equal(tail, []string{"--jobs", "4", "--to", "hello:say", "--offline"}) {
		t.Errorf("command %q: want -j and the run arguments at the end", cmd)
	}

	m = k8sJob(t, dir, "recipes/hello.yaml", "--target", "arm64", "--image", "img", "--storage", "100G", "--storage-class", "fast")
	if m.pvc.Spec.StorageClassName == nil || *m.pvc.Spec.StorageClassName != "fast" {
		t.Errorf("storageClassName %v, want fast", m.pvc.Spec.StorageClassName)
	}
	checkClaim(t, m, "bootstrap-k8s-hello-arm64-work", "100Gi")

	// ${{ env.NAME }}: compiled with what --env gives, which the pod gets.
	if err := os.WriteFile(filepath.Join(dir, "recipes/env.yaml"),
		[]byte("name: env\ncomponents:\n  - name: c\n    steps:\n      - name: s\n        run: echo ${{ env.GREETING }}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := bs(t, dir, "k8s-job", "recipes/env.yaml", "--target", "arm64", "--image", "img"); r.code != 2 || !strings.Contains(r.stderr, "GREETING is not set") {
		t.Errorf("env.yaml without --env: exit %d, %s", r.code, r.stderr)
	}
	if r := bs(t, dir, "k8s-job", "recipes/env.yaml", "--target", "arm64", "--image", "img", "--env", "GREETING"); r.code != 2 || !strings.Contains(r.stderr, "NAME=VALUE") {
		t.Errorf("--env GREETING: exit %d, %s", r.code, r.stderr)
	}
	m = k8sJob(t, dir, "recipes/env.yaml", "--target", "arm64", "--image", "img", "--env", "GREETING=hello, board", "--env", "BOOTSTRAP_MIRRORS=http://mirror.lan/")
	var env []string
	for _, e := range m.job.Spec.Template.Spec.Containers[0].Env {
		env = append(env, e.Name+"="+e.Value)
	}
	if want := []string{"HOME=/root", "BOOTSTRAP_KEY_DIR=/root/.config/bootstrap/keys", "GREETING=hello, board", "BOOTSTRAP_MIRRORS=http://mirror.lan/"}; !equal(env, want) {
		t.Errorf("env %q, want %q", env, want)
	}

	out := filepath.Join(dir, "job.yaml")
	stdout := bs(t, dir, "k8s-job", "recipes/hello.yaml", "--target", "arm64", "--image", "img")
	if r := bs(t, dir, "k8s-job", "recipes/hello.yaml", "--target", "arm64", "--image", "img", "-o", out); r.code != 0 || r.stdout != "" {
		t.Fatalf("-o: exit %d, stdout %q\n%s", r.code, r.stdout, r.stderr)
	}
	if data, err := os.ReadFile(out); err != nil || string(data) != stdout.stdout {
		t.Errorf("-o wrote %q (%v), want what stdout gets", data, err)
	}
}

// TestK8sJobRefuses checks that what would fail in the cluster fails here,
// exit 2, with the reason: no target, an unknown one, one the recipe does
// not list, no image, and a dir: source, which no pod can reach.
func TestK8sJobRefuses(t *testing.T) {
	dir := k8sFixture(t)
	if err := os.WriteFile(filepath.Join(dir, "recipes/local.yaml"),
		[]byte("name: local\ntargets: [amd64, arm64]\ncomponents:\n  - name: c\n    source:\n      dir: ../patches\n    steps:\n      - name: s\n        run: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no target", []string{"recipes/hello.yaml", "--image", "img"}, "needs --target"},
		{"unknown target", []string{"recipes/hello.yaml", "--target", "sparc64", "--image", "img"}, "sparc64"},
		{"target not listed", []string{"recipes/local.yaml", "--target", "s390x", "--image", "img"}, "does not support target s390x"},
		{"no image", []string{"recipes/hello.yaml", "--target", "arm64"}, "needs --image"},
		{"dir source", []string{"recipes/local.yaml", "--target", "amd64", "--image", "img"}, "recipes/local.yaml:6:7: component c: a dir: source"},
		{"missing recipe", []string{"recipes/nope.yaml", "--target", "amd64", "--image", "img"}, "no such recipe file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := bsEnv(t, dir, []string{"BOOTSTRAP_IMAGE="}, append([]string{"k8s-job"}, tt.args...)...)
			if r.code != 2 || !strings.Contains(r.stderr, tt.want) || r.stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2, nothing, and %q", r.code, r.stdout, r.stderr, tt.want)
			}
		})
	}
}
