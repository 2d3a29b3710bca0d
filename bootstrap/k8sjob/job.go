package k8sjob

import (
	"path"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// terminationGrace is how long a pod being evicted gets between SIGTERM
// and SIGKILL. bootstrap ends its running steps and exits 143 on SIGTERM
// well within it; the checkpoints written so far are what the next pod
// resumes from either way.
const terminationGrace = 60

// job is the Job running `bootstrap run` on a node of the target.
//
// Retries: restartPolicy Never, so every attempt is a new pod the Job
// controller counts, and the pod failure policy decides how: a pod that
// failed because its node went away (drain, preemption, eviction, a node
// lost: the DisruptionTarget condition) is ignored and replaced without
// counting against backoffLimit; exit 2 (an invalid recipe or bad usage)
// fails the Job at once, since another pod would fail the same way; any
// other failure counts. podReplacementPolicy Failed makes the
// replacement wait until the old pod is gone, so two pods never hold the
// work dir (its lock would turn the second away with exit 3).
func (b *builder) job() (*batchv1.Job, error) {
	backoff := b.opts.BackoffLimit
	failed := batchv1.Failed
	pod, err := b.podSpec()
	if err != nil {
		return nil, err
	}
	return &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: b.meta(b.base),
		Spec: batchv1.JobSpec{
			BackoffLimit:         &backoff,
			PodReplacementPolicy: &failed,
			PodFailurePolicy: &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
				{
					Action: batchv1.PodFailurePolicyActionIgnore,
					OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{
						{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue},
					},
				},
				{
					Action: batchv1.PodFailurePolicyActionFailJob,
					OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
						ContainerName: ptr(ContainerName),
						Operator:      batchv1.PodFailurePolicyOnExitCodesOpIn,
						Values:        []int32{ExitBadRecipe},
					},
				},
			}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: b.meta("").Labels},
				Spec:       pod,
			},
		},
	}, nil
}

// podSpec is the pod: one privileged container on a node of the target,
// the claim and the recipe mounted.
//
// Privileged, because every run step is sandboxed in namespaces bootstrap
// makes itself (mount, PID, network, IPC, UTS; see docs/sandbox.md), which
// needs CAP_SYS_ADMIN and the mount, unshare and open_tree system calls
// that a container runtime's default seccomp and AppArmor profiles deny;
// and a recipe's privileged: step (dockerd) needs real root anyway.
// No service account token is mounted: nothing in a build has any
// business with the cluster's API.
func (b *builder) podSpec() (corev1.PodSpec, error) {
	res, err := b.resources()
	if err != nil {
		return corev1.PodSpec{}, err
	}
	place := PlacementFor(b.t)
	items := make([]corev1.KeyToPath, 0, len(b.files))
	for _, f := range b.files {
		items = append(items, corev1.KeyToPath{Key: f.Key, Path: f.Rel})
	}
	const volWork, volRecipe = "work", "recipe"
	return corev1.PodSpec{
		RestartPolicy:                 corev1.RestartPolicyNever,
		NodeSelector:                  place.NodeSelector,
		Tolerations:                   place.Tolerations,
		AutomountServiceAccountToken:  ptr(false),
		EnableServiceLinks:            ptr(false),
		TerminationGracePeriodSeconds: ptr(int64(terminationGrace)),
		Containers: []corev1.Container{{
			Name:            ContainerName,
			Image:           b.opts.Image,
			Command:         b.Command(),
			Env:             b.env(),
			Resources:       res,
			SecurityContext: &corev1.SecurityContext{Privileged: ptr(true), RunAsUser: ptr(int64(0))},
			VolumeMounts: []corev1.VolumeMount{
				// Two directories of one claim: "keys" appears only
				// below HOME, which steps cannot see, not beside the
				// work dir, which they partly can.
				{Name: volWork, MountPath: DataMount, SubPath: "data"},
				{Name: volWork, MountPath: KeyMount, SubPath: "keys"},
				{Name: volRecipe, MountPath: RecipeMount, ReadOnly: true},
			},
		}},
		Volumes: []corev1.Volume{
			{Name: volWork, VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: b.claimName}}},
			{Name: volRecipe, VolumeSource: corev1.VolumeSource{
				ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: b.configName},
					Items:                items,
				}}},
		},
	}, nil
}

// Command is the container's command line: `bootstrap run` on the
// recipe as the ConfigMap lays it out, for the target, in the claim's work
// dir and cache, with plain timestamped lines (kubectl logs is no
// terminal), then -j and the extra arguments.
func (b *builder) Command() []string {
	cmd := []string{"bootstrap", "run", path.Join(RecipeMount, b.recipeRel),
		"--target", b.t.Name,
		"--workdir", b.workDir,
		"--cache", path.Join(DataMount, "cache"),
		"--plain"}
	if b.opts.Jobs > 0 {
		cmd = append(cmd, "--jobs", strconv.Itoa(b.opts.Jobs))
	}
	return append(cmd, b.opts.RunArgs...)
}

// env is the container's environment: HOME and the key's directory, then
// Options.Env in order.
func (b *builder) env() []corev1.EnvVar {
	env := []corev1.EnvVar{
		{Name: "HOME", Value: "/root"},
		{Name: "BOOTSTRAP_KEY_DIR", Value: KeyMount},
	}
	for _, kv := range b.opts.Env {
		k, v, _ := strings.Cut(kv, "=")
		env = append(env, corev1.EnvVar{Name: k, Value: v})
	}
	return env
}

// resources requests the recipe's host.memory, so that the scheduler puts
// the pod where that much is free. No limit: a compiler that needs a
// little more than the recipe guessed should swap or slow down, not be
// killed two hours in.
func (b *builder) resources() (corev1.ResourceRequirements, error) {
	m := b.r.Host.Memory
	if m.Value == "" {
		return corev1.ResourceRequirements{}, nil
	}
	q, err := quantity(m.Value, m.Pos.String()+": host.memory")
	if err != nil {
		return corev1.ResourceRequirements{}, err
	}
	return corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceMemory: q}}, nil
}

// ptr returns a pointer to a copy of v, for the API's optional fields.
func ptr[T any](v T) *T { return &v }
