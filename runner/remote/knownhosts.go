package remote

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// hostKeyError is a host key the known_hosts file does not vouch for.
type hostKeyError struct {
	msg string
}

func (e *hostKeyError) Error() string { return e.msg }

// hostKeyCallback checks host keys against the known_hosts file. An
// unknown host is refused unless AcceptNew, which appends its key; a key
// that differs from a recorded one is always refused, naming the file and
// line, as OpenSSH does.
func hostKeyCallback(o DialOptions) (ssh.HostKeyCallback, error) {
	path := knownHostsPath(o)
	var mu sync.Mutex
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		mu.Lock()
		defer mu.Unlock()
		check, err := knownhosts.New(path)
		if errors.Is(err, fs.ErrNotExist) {
			check = func(string, net.Addr, ssh.PublicKey) error {
				return &knownhosts.KeyError{}
			}
		} else if err != nil {
			return &hostKeyError{fmt.Sprintf("known hosts %s: %v", path, err)}
		}
		err = check(hostname, remote, key)
		var ke *knownhosts.KeyError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &ke) && len(ke.Want) > 0:
			w := ke.Want[0]
			return &hostKeyError{fmt.Sprintf("the host key of %s has CHANGED (now %s %s); %s line %d records another %s key: "+
				"if the board was reinstalled, remove that line (ssh-keygen -R %s -f %s) and connect again; otherwise someone may be in the middle",
				hostname, key.Type(), ssh.FingerprintSHA256(key), w.Filename, w.Line, w.Key.Type(), knownhosts.Normalize(hostname), w.Filename)}
		case errors.As(err, &ke):
			if !o.AcceptNew {
				return &hostKeyError{fmt.Sprintf("%s is not in %s (host key %s %s): check the fingerprint on the board and connect once with --accept-new, or use ssh to add it",
					hostname, path, key.Type(), ssh.FingerprintSHA256(key))}
			}
			return appendKnownHost(path, hostname, key)
		default:
			var re *knownhosts.RevokedError
			if errors.As(err, &re) {
				return &hostKeyError{fmt.Sprintf("the host key of %s is revoked in %s line %d", hostname, re.Revoked.Filename, re.Revoked.Line)}
			}
			return &hostKeyError{fmt.Sprintf("host key of %s: %v", hostname, err)}
		}
	}, nil
}

// appendKnownHost adds hostname's key to the known_hosts file, creating
// the file (and its directory, mode 0700) when missing.
func appendKnownHost(path, hostname string, key ssh.PublicKey) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return &hostKeyError{fmt.Sprintf("known hosts %s: %v", path, err)}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return &hostKeyError{fmt.Sprintf("known hosts %s: %v", path, err)}
	}
	line := knownhosts.Line([]string{knownhosts.Normalize(hostname)}, key)
	if _, err := fmt.Fprintln(f, line); err != nil {
		f.Close()
		return &hostKeyError{fmt.Sprintf("known hosts %s: %v", path, err)}
	}
	if err := f.Close(); err != nil {
		return &hostKeyError{fmt.Sprintf("known hosts %s: %v", path, err)}
	}
	return nil
}
