package runner

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/porterkit/bootstrap/runner/progress"
	"github.com/porterkit/bootstrap/runner/state"
)

// recordGroup notes a running step's process group, so that if this run is
// killed, the next one can stop what the step left running (a `make -j`
// whose shell died keeps compiling into the tree otherwise).
func recordGroup(path string, pgid int, build string) {
	_ = state.WriteFileAtomic(path, []byte(fmt.Sprintf("%d %s\n", pgid, build)))
}

// reapLeftovers kills the processes of steps that a killed run left behind.
// A process is only killed when it is in the recorded group and carries the
// recorded BOOTSTRAP_BUILD in its environment, so a reused PID is safe.
func reapLeftovers(workDir string, pr progress.Printer) {
	dir := filepath.Join(workDir, "running")
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		fields := strings.Fields(string(data))
		if len(fields) == 2 {
			if pgid, err := strconv.Atoi(fields[0]); err == nil && pgid > 1 {
				if n := killGroupOf(pgid, "BOOTSTRAP_BUILD="+fields[1]); n > 0 {
					pr.Printf("stopped %d process(es) left running by an interrupted run of %s", n, strings.Replace(e.Name(), "_", ":", 1))
				}
			}
		}
		os.Remove(p)
	}
}

func killGroupOf(pgid int, marker string) int {
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	n := 0
	for _, statPath := range procs {
		stat, err := os.ReadFile(statPath)
		if err != nil {
			continue
		}
		// The fields after the parenthesised command: state ppid pgrp …
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 3 || f[2] != strconv.Itoa(pgid) {
			continue
		}
		env, err := os.ReadFile(filepath.Join(filepath.Dir(statPath), "environ"))
		if err != nil || !bytes.Contains(env, []byte(marker+"\x00")) {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(statPath)))
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			n++
		}
	}
	return n
}
