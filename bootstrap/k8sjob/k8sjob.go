// Package k8sjob turns a recipe and a target into Kubernetes manifests that
// run `bootstrap run` as a Job on a node of that architecture: a ConfigMap
// carrying the recipe with its bases and patches, a PersistentVolumeClaim
// for the work dir (so a pod rescheduled after a node went away resumes
// from the checkpoints the last one wrote), and the Job itself, pinned by
// kubernetes.io/arch, with a pod failure policy that does not count node
// disruptions against the retries and gives up at once on a bad recipe.
//
// The objects are k8s.io/api types marshalled by sigs.k8s.io/yaml: the
// types are the schema the API server checks, so a field this package sets
// cannot be misspelt or misplaced the way hand-written YAML can drift.
package k8sjob

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"unicode/utf8"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	yamlv3 "gopkg.in/yaml.v3"

	"github.com/porterkit/bootstrap/bootstrap/arch"
	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/bootstrap/recipe"
)

// Paths inside the pod. The work dir and the cache live on the claim, the
// signing key on the claim too but mounted below HOME, which the sandbox
// hides from every step (a key a step can read signs whatever it likes).
const (
	// DataMount is where the claim's "data" directory is mounted; it holds
	// work/<recipe>-<target> and cache.
	DataMount = "/var/lib/bootstrap"
	// KeyMount is where the claim's "keys" directory is mounted:
	// $BOOTSTRAP_KEY_DIR, below HOME=/root.
	KeyMount = "/root/.config/bootstrap/keys"
	// RecipeMount is where the ConfigMap's files appear, in the layout
	// they have here.
	RecipeMount = "/etc/bootstrap/recipe"
	// ContainerName names the one container, which the pod failure
	// policy's exit-code rule refers to.
	ContainerName = "bootstrap"
)

// Defaults for what neither the options nor the recipe say.
const (
	// DefaultStorage is the claim's size when the recipe gives no
	// host.disk.
	DefaultStorage = "20Gi"
	// DefaultBackoffLimit is the backoffLimit bootstrap k8s-job writes
	// unless told otherwise: a failed step is retried from its
	// checkpoint a few times (a flaky test, an OOM kill), not forever.
	DefaultBackoffLimit = 3
	// ExitBadRecipe is bootstrap's exit status for bad usage or an
	// invalid recipe: retrying cannot help, so the Job fails at once.
	ExitBadRecipe = 2
	// configMapMax is what a ConfigMap may hold (etcd's 1 MiB object
	// limit), less room for the object's metadata.
	configMapMax = 1<<20 - 16<<10
)

// Label keys set on every object, so that `kubectl get -l` finds a
// recipe's or a target's objects.
const (
	LabelRecipe = "bootstrap.porterkit.dev/recipe"
	LabelTarget = "bootstrap.porterkit.dev/target"
)

// Options say what to build and where; Build fills in the rest from the
// recipe.
type Options struct {
	// Recipe is the recipe file.
	Recipe string
	// Target is the target to build for (any name arch.Lookup knows).
	Target string
	// Image is the container image: it must hold bootstrap on PATH and
	// the recipe's host tools, for the target's architecture.
	Image string
	// PVC names an existing claim to use; "" makes one.
	PVC string
	// Storage is the size of the claim made ("20G", "500Gi"); "" means
	// the recipe's host.disk, else DefaultStorage.
	Storage string
	// StorageClass is the claim's storage class; "" means the cluster's
	// default.
	StorageClass string
	// Namespace is every object's namespace; "" leaves it to kubectl.
	Namespace string
	// Jobs is `bootstrap run -j`; 0 leaves bootstrap's default.
	Jobs int
	// BackoffLimit is the Job's backoffLimit: how many failed pods it
	// tolerates, those a node disruption ended not counted (the command
	// line's default is DefaultBackoffLimit).
	BackoffLimit int32
	// RunArgs are more arguments for `bootstrap run` (--to go:make,
	// --offline), passed as they are.
	RunArgs []string
	// Env is NAME=VALUE pairs set in the container: what the recipe reads
	// with ${{ env.NAME }} (the plan is compiled with them, as the pod
	// will), or what bootstrap reads ($BOOTSTRAP_MIRRORS).
	Env []string
}

// Manifests are the objects of one Job, in the order they must be
// created.
type Manifests struct {
	// ConfigMap holds the recipe's files; its name carries a hash of
	// them, so an edited recipe is a new (immutable) ConfigMap.
	ConfigMap *corev1.ConfigMap
	// PVC is the claim for the work dir; nil when Options.PVC names an
	// existing one.
	PVC *corev1.PersistentVolumeClaim
	// Job runs `bootstrap run`.
	Job *batchv1.Job
	// Files are the recipe's files as the ConfigMap ships them.
	Files []File
}

// Build compiles the recipe for the target (so a bad recipe or target is
// refused here, as a recipe.ErrorList or *recipe.Error, not in the
// cluster) and returns its manifests. It returns an error naming the
// recipe file, the source or the size that cannot be shipped.
func Build(opts Options) (*Manifests, error) {
	r, err := recipe.Load(opts.Recipe)
	if err != nil {
		return nil, err
	}
	t, ok := arch.Lookup(opts.Target)
	if opts.Target == "" || !ok {
		return nil, &recipe.Error{Pos: recipe.Pos{File: opts.Recipe},
			Msg: fmt.Sprintf("unknown target %q: give --target, one of the recipe's targets", opts.Target)}
	}
	workDir := path.Join(DataMount, "work", r.Name.Value+"-"+t.Name)
	// The plan is compiled as the pod will: natively on the target, in
	// the pod's work dir (which decides where an in-source series lies).
	p, err := plan.Compile(r, plan.Options{WorkDir: workDir, Target: t.Name, Host: arch.Host{Target: t, UnameM: t.UnameM[0]},
		Getenv: opts.getenv, SkipContentHashes: true})
	if err != nil {
		return nil, err
	}
	files, err := recipeFiles(p)
	if err != nil {
		return nil, err
	}
	b := builder{opts: opts, r: r, t: t, files: files, workDir: workDir}
	abs, err := filepath.Abs(r.File)
	if err != nil {
		return nil, fmt.Errorf("recipe %s: %w", r.File, err)
	}
	for _, f := range files {
		if f.Path == abs {
			b.recipeRel = f.Rel
		}
	}
	b.names()
	m := &Manifests{Files: files}
	if m.ConfigMap, err = b.configMap(); err != nil {
		return nil, err
	}
	if opts.PVC == "" {
		if m.PVC, err = b.claim(); err != nil {
			return nil, err
		}
	}
	if m.Job, err = b.job(); err != nil {
		return nil, err
	}
	return m, nil
}

// getenv looks a name up in Env, the pod's environment beside HOME and
// BOOTSTRAP_KEY_DIR; the last NAME= wins, as in a shell.
func (o Options) getenv(name string) (string, bool) {
	val, found := "", false
	for _, kv := range o.Env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			val, found = v, true
		}
	}
	return val, found
}

// builder holds what the objects are made of.
type builder struct {
	opts    Options
	r       *recipe.Recipe
	t       arch.Target
	files   []File
	workDir string
	// recipeRel is the recipe's path among files.
	recipeRel string
	// base names the Job; the claim and ConfigMap add suffixes.
	base, claimName, configName string
	labels                      map[string]string
}

// names picks the objects' names and labels.
func (b *builder) names() {
	b.base = dnsLabel("bootstrap-"+b.r.Name.Value+"-"+b.t.Name, 63)
	b.claimName = b.opts.PVC
	if b.claimName == "" {
		b.claimName = b.base + "-work"
	}
	h := sha256.New()
	for _, f := range b.files {
		fmt.Fprintf(h, "%s\x00%d\x00", f.Rel, len(f.Data))
		h.Write(f.Data)
	}
	b.configName = b.base + "-recipe-" + hex.EncodeToString(h.Sum(nil))[:10]
	b.labels = map[string]string{
		"app.kubernetes.io/name":       "bootstrap",
		"app.kubernetes.io/managed-by": "bootstrap-k8s-job",
		LabelRecipe:                    labelValue(b.r.Name.Value),
		LabelTarget:                    b.t.Name,
	}
}

// meta is the ObjectMeta of an object called name.
func (b *builder) meta(name string) metav1.ObjectMeta {
	labels := make(map[string]string, len(b.labels))
	for k, v := range b.labels {
		labels[k] = v
	}
	return metav1.ObjectMeta{Name: name, Namespace: b.opts.Namespace, Labels: labels}
}

// configMap carries the recipe's files, text as data and anything else
// (a patch of a binary file in another encoding) as binaryData. Keys
// cannot hold '/', so each file's key is its path made a key, and the
// volume's items put it back at its path.
func (b *builder) configMap() (*corev1.ConfigMap, error) {
	immutable := true
	cm := &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: b.meta(b.configName), Immutable: &immutable,
		Data: map[string]string{}}
	total := 0
	for _, f := range b.files {
		total += len(f.Data)
		if utf8.Valid(f.Data) {
			cm.Data[f.Key] = string(f.Data)
			continue
		}
		if cm.BinaryData == nil {
			cm.BinaryData = map[string][]byte{}
		}
		cm.BinaryData[f.Key] = f.Data
	}
	if total > configMapMax {
		return nil, &recipe.Error{Pos: recipe.Pos{File: b.opts.Recipe},
			Msg: fmt.Sprintf("the recipe and its patches take %d bytes, more than a ConfigMap holds (%d): bake them into the image and pass the recipe's path there", total, configMapMax)}
	}
	return cm, nil
}

// claim is the work dir's PersistentVolumeClaim: ReadWriteOnce, since one
// pod at a time writes a work dir (its lock says so too).
func (b *builder) claim() (*corev1.PersistentVolumeClaim, error) {
	size, err := b.storage()
	if err != nil {
		return nil, err
	}
	pvc := &corev1.PersistentVolumeClaim{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
		ObjectMeta: b.meta(b.claimName),
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}},
		}}
	if b.opts.StorageClass != "" {
		sc := b.opts.StorageClass
		pvc.Spec.StorageClassName = &sc
	}
	return pvc, nil
}

// storage is the claim's size: --storage, else host.disk, else the
// default. Sizes are read as recipes write them (powers of 1024, "20G"
// or "20Gi") and written as Kubernetes quantities ("20Gi").
func (b *builder) storage() (resource.Quantity, error) {
	s, where := b.opts.Storage, "--storage"
	if s == "" {
		s, where = b.r.Host.Disk.Value, b.r.Host.Disk.Pos.String()+": host.disk"
	}
	if s == "" {
		return resource.MustParse(DefaultStorage), nil
	}
	return quantity(s, where)
}

// quantity reads a size the way recipes write it and returns it as a
// binary-SI quantity; the error names where the size was written.
func quantity(s, where string) (resource.Quantity, error) {
	n, err := recipe.ParseSize(s)
	if err != nil {
		return resource.Quantity{}, fmt.Errorf("%s: %w", where, err)
	}
	if n <= 0 {
		return resource.Quantity{}, fmt.Errorf("%s: size %q is not more than zero", where, s)
	}
	return *resource.NewQuantity(n, resource.BinarySI), nil
}

// WriteYAML writes the manifests as one multi-document YAML stream, in
// creation order (ConfigMap, claim, Job), after a comment naming what
// they were made from. It returns the first marshalling or write error.
func (m *Manifests) WriteYAML(w io.Writer, header string) error {
	var buf bytes.Buffer
	for _, line := range strings.Split(strings.TrimRight(header, "\n"), "\n") {
		if line != "" {
			buf.WriteString("# " + line + "\n")
		}
	}
	objs := []runtime.Object{m.ConfigMap}
	if m.PVC != nil {
		objs = append(objs, m.PVC)
	}
	objs = append(objs, m.Job)
	for i, o := range objs {
		kind := o.GetObjectKind().GroupVersionKind().Kind
		data, err := yaml.Marshal(o)
		if err != nil {
			return fmt.Errorf("marshal %s: %w", kind, err)
		}
		if data, err = literalBlocks(data); err != nil {
			return fmt.Errorf("marshal %s: %w", kind, err)
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(data)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// literalBlocks rewrites a YAML document so that multi-line strings (the
// recipe and patches in the ConfigMap) are literal blocks a person can
// read and diff, not the one-line quoted strings sigs.k8s.io/yaml's YAML
// 1.1 emitter writes. Only the style changes, and only where that is
// safe: yaml.v3 keeps a string quoted when a block cannot hold it (tabs,
// trailing spaces before a line break), a string that starts with a line
// break stays quoted (yaml.v3 writes such a block one line short), and
// when the restyled document does not decode to the same values as the
// original, the original is returned.
func literalBlocks(doc []byte) ([]byte, error) {
	var n yamlv3.Node
	if err := yamlv3.Unmarshal(doc, &n); err != nil {
		return nil, err
	}
	var walk func(*yamlv3.Node)
	walk = func(n *yamlv3.Node) {
		v := n.Value
		if n.Kind == yamlv3.ScalarNode && n.Tag == "!!str" && strings.Contains(v, "\n") &&
			!strings.HasPrefix(v, "\n") && !strings.Contains(v, "\r") {
			n.Style = yamlv3.LiteralStyle
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&n)
	var buf bytes.Buffer
	enc := yamlv3.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	var before, after any
	if err := yaml.Unmarshal(doc, &before); err != nil {
		return nil, err
	}
	if err := yaml.Unmarshal(buf.Bytes(), &after); err != nil || !reflect.DeepEqual(before, after) {
		return doc, nil
	}
	return buf.Bytes(), nil
}

var notLabel = regexp.MustCompile(`[^a-z0-9]+`)

// dnsLabel makes s an RFC 1123 label of at most max characters (what a
// Job's name must be: its pods carry it as a label): lower case, each run
// of other characters (hyphens included) as one '-', and, when too long, cut and ended with a hash
// of the whole so that two long names stay apart.
func dnsLabel(s string, max int) string {
	l := strings.Trim(notLabel.ReplaceAllString(strings.ToLower(s), "-"), "-")
	if len(l) <= max {
		return l
	}
	sum := sha256.Sum256([]byte(s))
	return strings.TrimRight(l[:max-9], "-") + "-" + hex.EncodeToString(sum[:])[:8]
}

var notLabelValue = regexp.MustCompile(`[^A-Za-z0-9._]+`)

// labelValue makes s a valid label value: at most 63 characters of
// [A-Za-z0-9._-], starting and ending with a letter or digit; each run
// of other characters (hyphens included) becomes one '-'.
func labelValue(s string) string {
	v := strings.Trim(notLabelValue.ReplaceAllString(s, "-"), "-_.")
	if len(v) > 63 {
		v = strings.TrimRight(v[:63], "-_.")
	}
	return v
}

var notKey = regexp.MustCompile(`[^-._a-zA-Z0-9]`)

// configKey makes a slash-separated relative path a ConfigMap key
// ([-._a-zA-Z0-9]+): "/" becomes "__", anything else invalid "_". The
// volume's items map each key back to its path, so the key only has to be
// unique, which setKeys sees to.
func configKey(rel string) string {
	return notKey.ReplaceAllString(strings.ReplaceAll(rel, "/", "__"), "_")
}
