package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// setAttr makes the mount at path, and every mount below it, read-only
// (or writable): one mount_setattr(2) (Linux 5.12), or, where that is
// not implemented, a remount of each mount in turn. qemu-user 10 does
// not implement mount_setattr (ENOSYS); the remount does the same with
// the system calls it passes through, one mount at a time.
func setAttr(path string, ro bool) error {
	attr := &unix.MountAttr{}
	if ro {
		attr.Attr_set = unix.MOUNT_ATTR_RDONLY
	} else {
		attr.Attr_clr = unix.MOUNT_ATTR_RDONLY
	}
	err := unix.MountSetattr(unix.AT_FDCWD, path, unix.AT_RECURSIVE, attr)
	if !errors.Is(err, syscall.ENOSYS) {
		return err
	}
	return remountTree(path, ro)
}

// remountTree remounts path and every mount below it read-only (or
// writable), keeping each one's other flags: a remount that dropped
// nosuid, nodev or noexec would widen what the mount allows, and in a
// user namespace the kernel refuses to clear them. Mounts that others
// cover (a proc mounted over another leaves the old one's
// binfmt_misc listed) cannot be reached by their path and are left.
func remountTree(path string, ro bool) error {
	mounts, err := mountsBelow(path)
	if err != nil {
		return err
	}
	for _, m := range mounts {
		if id, err := mountID(m.path); err != nil || id != m.id {
			continue // covered, or gone: not reachable by this path
		}
		var st unix.Statfs_t
		if err := unix.Statfs(m.path, &st); err != nil {
			return fmt.Errorf("remount %s: %w", m.path, err)
		}
		keep := uintptr(st.Flags) & (unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME)
		flags := unix.MS_REMOUNT | unix.MS_BIND | keep
		what := "writable"
		if ro {
			flags |= unix.MS_RDONLY
			what = "read-only"
		}
		if err := unix.Mount("", m.path, "", flags, ""); err != nil {
			return fmt.Errorf("remount %s %s (mount_setattr is not implemented here, as under qemu-user): %w", m.path, what, err)
		}
	}
	return nil
}

// mount is one line of /proc/self/mountinfo: the mount's id and where
// it is mounted.
type mount struct {
	id   int
	path string
}

// mountsBelow lists the mounts at and below path, in the order they
// were mounted (parents first), from /proc/self/mountinfo.
func mountsBelow(path string) ([]mount, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	path = filepath.Clean(path)
	var out []mount
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		id, err := strconv.Atoi(f[0])
		if err != nil {
			continue
		}
		mp := unescapeMountinfo(f[4])
		if mp == path || path == "/" || strings.HasPrefix(mp, path+"/") {
			out = append(out, mount{id: id, path: mp})
		}
	}
	return out, nil
}

// mountID is the id of the mount path is on: the top one, when path is
// a mount point that several mounts share.
func mountID(path string) (int, error) {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	data, err := os.ReadFile("/proc/self/fdinfo/" + strconv.Itoa(fd))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "mnt_id:"); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, fmt.Errorf("no mnt_id in /proc/self/fdinfo of %s", path)
}

// unescapeMountinfo undoes the octal escapes (\040 for a space) the
// kernel writes in mountinfo paths.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// rootNote explains a root that is not a mount point, "" otherwise.
// bootstrap chrooted into a plain directory cannot keep the step's
// mounts from propagating back out of it: making mounts private takes a
// mount point, and the mount the directory lives on lies outside the
// root, out of reach. (unshare(1) refuses the same.)
func rootNote() string {
	mounts, err := mountsBelow("/")
	if err != nil {
		return ""
	}
	for _, m := range mounts {
		if m.path == "/" {
			return ""
		}
	}
	return "/ is not a mount point: bootstrap runs chrooted into a directory, whose mounts the sandbox cannot keep private; " +
		"bind-mount the directory on itself before the chroot (mount --bind DIR DIR), as schroot and systemd-nspawn do"
}
