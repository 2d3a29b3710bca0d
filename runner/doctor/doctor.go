// Package doctor checks that a host has what a recipe's host: section asks
// for — the architecture, tools (with versions), Debian packages, free disk,
// memory, kernel options and binfmt_misc handlers, and for a 32-bit target
// on a 64-bit kernel whether the CPU runs its code and the steps can run
// under the 32-bit personality — before hours are spent building, and
// installs missing Debian packages on request.
//
// Every check reads the real system; what cannot be determined (no kernel
// config, binfmt_misc not mounted, no dpkg) is reported as unknown rather
// than failing the run.
package doctor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/porterkit/bootstrap/bootstrap/arch"
	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/bootstrap/recipe"
)

// Options say where and for what the host is checked.
type Options struct {
	// WorkDir is where the build will write; free disk is measured on its
	// file system (at its nearest existing ancestor). Default ".".
	WorkDir string
	// Env supplies the PATH tools are looked up on; nil means this
	// process's environment.
	Env []string
	// Host is the detected host; nil means arch.DetectHost().
	Host *arch.Host
	// Target is the target asked for (--target); empty means the host's.
	Target string
	// KernelConfig is the kernel config file to read; empty means
	// /proc/config.gz, then /boot/config-$(uname -r).
	KernelConfig string
	// BinfmtDir is where binfmt_misc is mounted; default
	// /proc/sys/fs/binfmt_misc.
	BinfmtDir string
	// MemInfo is the meminfo file; default /proc/meminfo.
	MemInfo string
	// Emulate checks for a run whose steps execute in a root file system of
	// the target's architecture: the recipe's tools and packages are then
	// the tree's business, and the host needs the means to build and enter
	// it instead (see checkEmulation).
	Emulate bool
	// RootfsGiven says the tree is given (--rootfs), so mmdebstrap is not
	// needed.
	RootfsGiven bool
	// CPUInfo is the cpuinfo file naming the CPU's cores; default
	// /proc/cpuinfo.
	CPUInfo string
	// Compat32 asks the kernel whether it runs a 32-bit target's programs
	// natively; nil means ProbeCompat32 (the real kernel).
	Compat32 func(context.Context, arch.Target) Compat32
}

// Status is the outcome of one check.
type Status string

// The outcomes. Unknown does not fail the report: the doctor could not
// tell, and says why. Absent does not fail it either: an optional tool
// that only some command needs is not there.
const (
	OK      Status = "ok"
	Missing Status = "MISSING"
	Unknown Status = "unknown"
	Absent  Status = "absent"
)

// Optional checks the tools that no recipe needs but some of bootstrap's
// commands use (Graphviz's dot for `bootstrap graph --svg`): OK, or Absent
// with what needs it and how to install it. lookPath is exec.LookPath.
func Optional(lookPath func(string) (string, error)) []Result {
	res := Result{Kind: "optional", Name: "dot"}
	if p, err := lookPath("dot"); err == nil {
		res.Status, res.Detail = OK, p
	} else {
		res.Status, res.Detail = Absent, "`bootstrap graph --svg` renders through Graphviz: apt-get install graphviz"
	}
	return []Result{res}
}

// Result is one check.
type Result struct {
	// Kind is arch, tool, package, disk, memory, kernel or binfmt.
	Kind string
	// Name is what was checked: a tool, package, option or handler name.
	Name   string
	Status Status
	// Detail says what was found, or what is missing and how to get it.
	Detail string
	// Pos is where the recipe asks for it.
	Pos recipe.Pos
}

// Report is the outcome of Check, in recipe order.
type Report struct {
	Results []Result
}

// OK reports whether no check is Missing.
func (r *Report) OK() bool { return len(r.Failed()) == 0 }

// Failed returns the Missing results.
func (r *Report) Failed() []Result {
	var out []Result
	for _, c := range r.Results {
		if c.Status == Missing {
			out = append(out, c)
		}
	}
	return out
}

// MissingPackages returns the Debian packages that are not installed,
// sorted, ready for Install.
func (r *Report) MissingPackages() []string {
	var out []string
	for _, c := range r.Results {
		if c.Kind == "package" && c.Status == Missing {
			out = append(out, c.Name)
		}
	}
	sort.Strings(out)
	return out
}

// Print writes one line per check, "status  kind  name: detail", and
// returns the writer's error.
func (r *Report) Print(w io.Writer) error {
	for _, c := range r.Results {
		line := fmt.Sprintf("%-8s %-8s %s", c.Status, c.Kind, c.Name)
		if c.Detail != "" {
			line += ": " + c.Detail
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	return nil
}

// Check runs every check the recipe's host section asks for, plus the
// architecture check. Problems found are results, not errors; it returns
// an error only when ctx is done.
func Check(ctx context.Context, r *recipe.Recipe, opts Options) (*Report, error) {
	if opts.Env == nil {
		opts.Env = os.Environ()
	}
	rep := &Report{}
	rep.Results = append(rep.Results, checkArch(r, opts)...)
	if opts.Emulate {
		return checkEmulated(ctx, r, opts, rep)
	}
	rep.Results = append(rep.Results, check32(ctx, opts)...)
	for _, t := range r.Host.Tools {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rep.Results = append(rep.Results, checkTool(ctx, t, opts.Env))
	}
	var pkgs []recipe.Str
	if len(r.Host.Packages) > 0 {
		h, err := host(opts)
		if err != nil {
			return nil, err
		}
		t := h.Target
		if x, ok := arch.Lookup(opts.Target); ok {
			t = x
		}
		if pkgs, err = plan.HostPackages(r, h, t); err != nil {
			return nil, err
		}
	}
	if pkgs = append(pkgs, sourcePackages(r, pkgs)...); len(pkgs) > 0 {
		rep.Results = append(rep.Results, checkPackages(ctx, pkgs)...)
	}
	if r.Host.Disk.Value != "" {
		rep.Results = append(rep.Results, checkDisk(r.Host.Disk, opts.WorkDir))
	}
	if r.Host.Memory.Value != "" {
		rep.Results = append(rep.Results, checkMemory(r.Host.Memory, opts.MemInfo))
	}
	if len(r.Host.Kernel) > 0 {
		rep.Results = append(rep.Results, checkKernel(r.Host.Kernel, opts.KernelConfig)...)
	}
	for _, b := range r.Host.Binfmt {
		rep.Results = append(rep.Results, checkBinfmt(b, opts.BinfmtDir))
	}
	return rep, ctx.Err()
}

// sourcePackages are the Debian packages of the clients bootstrap runs to
// fetch the recipe's svn and hg sources (git is go-git, in bootstrap
// itself), each at the first source that needs it, leaving out those in
// listed.
func sourcePackages(r *recipe.Recipe, listed []recipe.Str) []recipe.Str {
	seen := map[string]bool{}
	for _, p := range listed {
		seen[p.Value] = true
	}
	var out []recipe.Str
	add := func(pkg string, pos recipe.Pos) {
		if !seen[pkg] {
			seen[pkg] = true
			out = append(out, recipe.Str{Value: pkg, Pos: pos})
		}
	}
	for _, c := range r.Components {
		for _, src := range c.Sources {
			if src.SVN.Value != "" {
				add("subversion", src.SVN.Pos)
			}
			if src.HG.Value != "" {
				add("mercurial", src.HG.Pos)
			}
		}
	}
	return out
}

// checkEmulated is Check for an emulated run: the host's disk and memory,
// mmdebstrap, and what running the target's programs takes.
func checkEmulated(ctx context.Context, r *recipe.Recipe, opts Options, rep *Report) (*Report, error) {
	if !rep.OK() {
		return rep, nil // unknown target, or one the recipe does not list
	}
	var pkgs []recipe.Str
	if !opts.RootfsGiven {
		// mmdebstrap refuses a foreign architecture without arch-test
		// ("E: install arch-test for foreign architecture support").
		pkgs = []recipe.Str{{Value: "mmdebstrap", Pos: r.Host.Pos}, {Value: "arch-test", Pos: r.Host.Pos}}
	}
	// host.packages go into the root file system, but sources are fetched
	// here: the svn and hg clients must be on this host.
	if pkgs = append(pkgs, sourcePackages(r, nil)...); len(pkgs) > 0 {
		rep.Results = append(rep.Results, checkPackages(ctx, pkgs)...)
	}
	if r.Host.Disk.Value != "" {
		rep.Results = append(rep.Results, checkDisk(r.Host.Disk, opts.WorkDir))
	}
	if r.Host.Memory.Value != "" {
		rep.Results = append(rep.Results, checkMemory(r.Host.Memory, opts.MemInfo))
	}
	h, _ := host(opts)
	t, _ := arch.Lookup(opts.Target)
	if t.Name == "" {
		t = h.Target
	}
	rep.Results = append(rep.Results, checkEmulation(ctx, h, t, opts.BinfmtDir)...)
	rep.Results = append(rep.Results, check32(ctx, opts)...)
	return rep, ctx.Err()
}

// check32 checks what running a 32-bit target on this host's kernel takes
// (see compat32.go): for a 32-bit userland on a 64-bit kernel, that this
// process runs under linux32; for a 32-bit target this 64-bit kernel runs
// itself (armhf on arm64, where --emulate enters an armhf tree under
// linux32 at native speed), the kernel's answers and the CPU's cores;
// natively on a host whose kernel runs no code of the target, why not.
func check32(ctx context.Context, opts Options) []Result {
	h, err := host(opts)
	if err != nil {
		return nil // checkArch has said so
	}
	t, ok := arch.Lookup(opts.Target)
	if !ok {
		t = h.Target
	}
	switch {
	case t.Name == h.Target.Name && t.Bits < h.KernelBits:
		return []Result{checkUserland32(h)}
	case needsLinux32(h, t):
		probe := opts.Compat32
		if probe == nil {
			probe = func(ctx context.Context, t arch.Target) Compat32 { return ProbeCompat32(ctx, t, opts.BinfmtDir) }
		}
		cpuinfo := opts.CPUInfo
		if cpuinfo == "" {
			cpuinfo = "/proc/cpuinfo"
		}
		b, _ := os.ReadFile(cpuinfo) // no cpuinfo: no cpu line
		return checkCompat32(h, t, probe(ctx, t), parseCores(string(b)))
	case t.Bits == 32 && !opts.Emulate && !h.KernelRuns(t):
		return []Result{{Kind: "linux32", Name: t.Name, Status: Missing, Detail: foreign32(h, t)}}
	}
	return nil
}

func host(opts Options) (arch.Host, error) {
	if opts.Host != nil {
		return *opts.Host, nil
	}
	return arch.DetectHost()
}

// checkArch compares the host with the recipe's targets and the target
// asked for.
func checkArch(r *recipe.Recipe, opts Options) []Result {
	res := Result{Kind: "arch", Pos: r.Host.Pos}
	h, err := host(opts)
	if err != nil {
		res.Name, res.Status, res.Detail = "host", Unknown, err.Error()
		return []Result{res}
	}
	res.Name = h.Target.Name
	want := opts.Target
	if want == "" {
		// Without --target the recipe is run for the host itself, which
		// must then be one of its targets.
		var names []string
		for _, t := range r.Targets {
			tg, ok := arch.Lookup(t.Value)
			if ok && tg.Name == h.Target.Name {
				res.Status, res.Detail = OK, h.String()
				return []Result{res}
			}
			names = append(names, t.Value)
		}
		if len(r.Targets) == 0 {
			res.Status, res.Detail = OK, h.String()
			return []Result{res}
		}
		res.Status = Missing
		res.Detail = fmt.Sprintf("this host is %s, not one of the recipe's targets [%s]", h, strings.Join(names, " "))
		res.Pos = r.Targets[0].Pos
		if first, ok := arch.Lookup(names[0]); ok {
			var nn *arch.NotNativeError
			if err := h.CanBuild(first); errors.As(err, &nn) {
				// The hint says how: on the board, or --emulate.
				res.Detail += fmt.Sprintf("; for %s, %s", first.Name, nn.Hint)
			} else if err != nil {
				res.Detail += fmt.Sprintf("; for %s: %v", first.Name, err)
			} else {
				res.Detail += fmt.Sprintf(": this host can build for %s with --target %s", first.Name, first.Name)
			}
		}
		return []Result{res}
	}
	tg, ok := arch.Lookup(want)
	if !ok {
		res.Status, res.Detail = Missing, fmt.Sprintf("unknown target %q", want)
		return []Result{res}
	}
	if opts.Emulate {
		if !listed(r, tg) {
			res.Status, res.Detail = Missing, fmt.Sprintf("the recipe does not list target %s", tg.Name)
			return []Result{res}
		}
		res.Status, res.Detail = OK, fmt.Sprintf("%s steps run in %s root file system on this %s", tg.Name, arch.WithArticle(tg.DebArch), h)
		return []Result{res}
	}
	if err := h.CanBuild(tg); err != nil {
		res.Status, res.Detail = Missing, err.Error()
		return []Result{res}
	}
	res.Status, res.Detail = OK, h.String()
	return []Result{res}
}

// listed reports whether the recipe supports target t (a recipe without
// targets: supports every one).
func listed(r *recipe.Recipe, t arch.Target) bool {
	if len(r.Targets) == 0 {
		return true
	}
	for _, rt := range r.Targets {
		if x, ok := arch.Lookup(rt.Value); ok && x.Name == t.Name {
			return true
		}
	}
	return false
}
