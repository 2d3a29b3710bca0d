package k8sjob

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/porterkit/bootstrap/bootstrap/arch"
)

// ArchLabel is the well-known node label the kubelet sets to its GOARCH.
const ArchLabel = "kubernetes.io/arch"

// VariantLabel is the node label of our own that tells apart targets
// kubernetes.io/arch cannot: armhf and armel nodes both say "arm" (the
// kubelet's GOARCH), and a 386 build runs on an amd64 node whose kernel
// still runs 32-bit x86 programs (CONFIG_IA32_EMULATION, not disabled
// with ia32_emulation=0), which nothing in Kubernetes records. A cluster
// admin sets it on the nodes that qualify, with the target's name as its
// value (kubectl label node pi3 bootstrap.porterkit.dev/arch-variant=armhf).
// It is ours, not "kubernetes.io/arch-variant": the kubernetes.io/ and
// k8s.io/ prefixes are reserved for Kubernetes' own components, and no
// such label is defined there.
const VariantLabel = "bootstrap.porterkit.dev/arch-variant"

// Placement is where a target's build may run: the node selector that
// pins its pod and the tolerations that let it onto nodes tainted by
// architecture.
type Placement struct {
	// NodeSelector holds ArchLabel and, for targets it cannot tell apart,
	// VariantLabel.
	NodeSelector map[string]string
	// Tolerations accept the taint clusters with mixed architectures put
	// on their non-amd64 nodes (GKE's kubernetes.io/arch=arm64:NoSchedule),
	// so that such a node is not closed to the one pod meant for it.
	Tolerations []corev1.Toleration
}

// PlacementFor returns the placement of target t: kubernetes.io/arch is
// its GOARCH, except for 386, whose nodes are amd64 ones (the kubelet has
// not been built for 386 since Kubernetes 1.20); armhf, armel and 386 add
// VariantLabel.
func PlacementFor(t arch.Target) Placement {
	nodeArch := t.GOARCH
	sel := map[string]string{}
	switch t.Name {
	case "386":
		nodeArch = "amd64"
		sel[VariantLabel] = t.Name
	case "armhf", "armel":
		sel[VariantLabel] = t.Name
	}
	sel[ArchLabel] = nodeArch
	return Placement{
		NodeSelector: sel,
		Tolerations: []corev1.Toleration{{
			Key: ArchLabel, Operator: corev1.TolerationOpEqual, Value: nodeArch, Effect: corev1.TaintEffectNoSchedule,
		}},
	}
}
