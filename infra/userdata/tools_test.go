package userdata

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The rendered documents are real tooling's input: cloud-init's own schema
// validator and shellcheck. A missing tool skips, unless BOOKSTORE_TEST_STRICT=1
// (CI), where it fails.

func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	msg := fmt.Sprintf("%s not found: install it with `apt-get install -y %s` (Debian 12)", name, pkg)
	if os.Getenv("BOOKSTORE_TEST_STRICT") == "1" {
		t.Fatal(msg + "; BOOKSTORE_TEST_STRICT=1 makes this a failure")
	}
	t.Skip(msg)
	return ""
}

func run(t *testing.T, dir, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// schema runs `cloud-init schema --config-file` (the spelling Debian 12's
// cloud-init 22.4 and later releases share; `cloud-init devel schema` is gone).
func schema(t *testing.T, doc string) (string, error) {
	t.Helper()
	cloudInit := requireTool(t, "cloud-init", "cloud-init")
	path := filepath.Join(t.TempDir(), "user-data.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return run(t, "", cloudInit, "schema", "--config-file", path)
}

// cloud-init takes ~2 s a call (Python start-up): the subtests run in parallel.
func TestCloudInitSchemaAcceptsEveryDocument(t *testing.T) {
	t.Parallel()
	for _, r := range renderers {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			doc, err := r.render()
			if err != nil {
				t.Fatal(err)
			}
			out, err := schema(t, doc)
			if err != nil || !strings.Contains(out, "Valid cloud-config") {
				t.Fatalf("cloud-init schema rejected the %s document: %v\n%s", r.name, err, out)
			}
		})
	}
}

// The validator can fail: corrupted copies of a real document are rejected.
func TestCloudInitSchemaRejectsBrokenDocuments(t *testing.T) {
	t.Parallel()
	doc, err := RenderFleet(validFleet())
	if err != nil {
		t.Fatal(err)
	}
	broken := map[string]string{
		"permissions not a string": strings.Replace(doc, "permissions: '0755'", "permissions: 0755", 1),
		"runcmd not a list":        strings.Replace(doc, "runcmd:\n- [", "runcmd: [", 1)[:strings.Index(doc, "runcmd:")] + "runcmd: /opt/bookstore/bin/fleet-boot.sh\n",
		"unknown write_files key":  strings.Replace(doc, "  owner: root:root\n", "  owner: root:root\n  mode: '0644'\n", 1),
		"no #cloud-config header":  strings.TrimPrefix(doc, "#cloud-config\n"),
	}
	for name, b := range broken {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if b == doc {
				t.Fatal("the corruption did not apply")
			}
			if out, err := schema(t, b); err == nil {
				t.Errorf("cloud-init schema accepted it:\n%s", out)
			}
		})
	}
}

// shellFiles writes the document's shell files under root at their own
// paths (so `source` directives resolve as on the host) and returns them.
// Scripts are the files with a #! line; boot.env is sourced by bash.
func shellFiles(t *testing.T, p parsed, root string) []string {
	t.Helper()
	var paths []string
	for _, f := range p.Files {
		if !strings.HasPrefix(f.Content, "#!") && f.Path != "/opt/bookstore/boot.env" {
			continue
		}
		dst := filepath.Join(root, f.Path)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, []byte(f.Content), 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, dst)
	}
	// runcmd strings run under sh; this package writes only exec-form lists,
	// but anything inline would be checked too.
	for i, c := range p.Runcmd {
		if s, ok := c.(string); ok {
			dst := filepath.Join(root, fmt.Sprintf("runcmd-%d.sh", i))
			if err := os.WriteFile(dst, []byte("#!/bin/sh\n"+s+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			paths = append(paths, dst)
		}
	}
	return paths
}

func shellcheck(t *testing.T, paths ...string) (string, error) {
	t.Helper()
	bin := requireTool(t, "shellcheck", "shellcheck")
	args := append([]string{"--external-sources", "--source-path=SCRIPTDIR", "--shell=bash"}, paths...)
	return run(t, "", bin, args...)
}

func TestShellcheckAcceptsEveryScript(t *testing.T) {
	for _, r := range renderers {
		t.Run(r.name, func(t *testing.T) {
			p := mustRender(t, r.render)
			paths := shellFiles(t, p, t.TempDir())
			if len(paths) < 3 {
				t.Fatalf("found only %d shell files in the %s document", len(paths), r.name)
			}
			if out, err := shellcheck(t, paths...); err != nil {
				t.Errorf("shellcheck: %v\n%s", err, out)
			}
		})
	}
}

// The check can fail: a boot script with an unquoted expansion, and a
// boot.env written without quoting, are both rejected.
func TestShellcheckRejectsBrokenScripts(t *testing.T) {
	p := mustRender(t, renderers[0].render)
	root := t.TempDir()
	shellFiles(t, p, root)
	boot := filepath.Join(root, "opt/bookstore/bin/fleet-boot.sh")
	b, err := os.ReadFile(boot)
	if err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]string{
		"unquoted expansion": string(b) + "rm -rf ${EFS_MOUNT}/$1\n",
		"syntax error":       string(b) + "if true; then\n",
	} {
		if err := os.WriteFile(boot, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := shellcheck(t, boot); err == nil {
			t.Errorf("shellcheck accepted a boot script with %s:\n%s", name, out)
		}
	}
	env := filepath.Join(root, "boot.env")
	if err := os.WriteFile(env, []byte("IMAGE_REF=a b\nREGION=$(curl x)\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := shellcheck(t, env); err == nil {
		t.Errorf("shellcheck accepted an unquoted boot.env:\n%s", out)
	}
}

// retry, the helper every bounded wait relies on, run by bash itself.
func TestLibRetry(t *testing.T) {
	bash := requireTool(t, "bash", "bash")
	lib := filepath.Join(t.TempDir(), "lib.sh")
	if err := os.WriteFile(lib, []byte(static("scripts/lib.sh")), 0o600); err != nil {
		t.Fatal(err)
	}
	prelude := `set -Eeuo pipefail; RETRY_FIRST_DELAY=0; . "$1"; logger() { :; }; n=0; succeed_third() { n=$((n + 1)); ((n >= 3)); }; `
	cases := []struct {
		name, script string
		ok           bool
		want         string
	}{
		{"succeeds on the third try", `retry 5 "flaky step" succeed_third; echo "tries=$n"`, true, "tries=3"},
		{"gives up after the budget", `retry 2 "flaky step" succeed_third; echo "not reached"`, false, "giving up: flaky step failed 2 times"},
		{"logs each failure", `retry 5 "flaky step" succeed_third`, true, "flaky step failed (attempt 2/5), next try in 0s"},
		{"die is fatal", `die "boom"; echo "not reached"`, false, "FATAL: boom"},
		{"passes arguments through", `retry 1 "grep" grep -q needle <<<"hay needle hay"; echo found`, true, "found"},
	}
	for _, c := range cases {
		start := time.Now()
		out, err := run(t, "", bash, "-c", prelude+c.script, "_", lib)
		if (err == nil) != c.ok || !strings.Contains(out, c.want) || strings.Contains(out, "not reached") {
			t.Errorf("%s: err=%v, output:\n%s\nwant %q", c.name, err, out, c.want)
		}
		if time.Since(start) > 5*time.Second {
			t.Errorf("%s: slept despite RETRY_FIRST_DELAY=0", c.name)
		}
	}
}

// verifyUnits runs `systemd-analyze verify` over the document's units under
// a scratch root. What AL2023 provides is stubbed: docker.service, the docker
// binaries, and the host's own targets and slices. systemd only warns about
// bad keys and values, so any output counts as a failure.
func verifyUnits(t *testing.T, p parsed, edit func(path, content string) string) (string, error) {
	t.Helper()
	analyze := requireTool(t, "systemd-analyze", "systemd")
	root := t.TempDir()
	write := func(rel, content string, mode os.FileMode) {
		dst := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("usr/lib/systemd/system/docker.service", "[Unit]\nDescription=Docker stub\n[Service]\nExecStart=/usr/bin/dockerd\n[Install]\nWantedBy=multi-user.target\n", 0o644)
	write("usr/bin/docker", "#!/bin/sh\n", 0o755)
	write("usr/bin/dockerd", "#!/bin/sh\n", 0o755)
	for _, dir := range []string{"/usr/lib/systemd/system", "/lib/systemd/system"} {
		for _, pattern := range []string{"*.target", "*.slice"} {
			matches, _ := filepath.Glob(filepath.Join(dir, pattern))
			for _, m := range matches {
				if b, err := os.ReadFile(m); err == nil {
					write(filepath.Join("usr/lib/systemd/system", filepath.Base(m)), string(b), 0o644)
				}
			}
		}
	}
	units := []string{"docker.service"}
	for _, f := range p.Files {
		if f.Permissions == "0755" { // a unit's ExecStart may be one of the document's scripts
			write(strings.TrimPrefix(f.Path, "/"), f.Content, 0o755)
		}
		if !strings.HasPrefix(f.Path, "/etc/systemd/system/") {
			continue
		}
		content := f.Content
		if edit != nil {
			content = edit(f.Path, content)
		}
		write(strings.TrimPrefix(f.Path, "/"), content, 0o644)
		if strings.HasSuffix(f.Path, ".service") || strings.HasSuffix(f.Path, ".timer") {
			units = append(units, filepath.Base(f.Path))
		}
	}
	out, err := run(t, "", analyze, append([]string{"verify", "--man=no", "--root=" + root}, units...)...)
	if err == nil && strings.TrimSpace(out) != "" {
		err = fmt.Errorf("systemd-analyze printed warnings")
	}
	return out, err
}

func TestSystemdUnitsVerify(t *testing.T) {
	for _, r := range renderers {
		t.Run(r.name, func(t *testing.T) {
			if out, err := verifyUnits(t, mustRender(t, r.render), nil); err != nil {
				t.Errorf("%v\n%s", err, out)
			}
		})
	}
}

func TestSystemdUnitsVerifyRejectsBrokenUnits(t *testing.T) {
	p := mustRender(t, renderers[0].render)
	for name, edit := range map[string]func(string, string) string{
		"bad Type": func(_, c string) string { return strings.Replace(c, "Type=oneshot", "Type=oneshoot", 1) },
		"unknown key": func(_, c string) string {
			return strings.Replace(c, "[Unit]\n", "[Unit]\nRequiresMount=/mnt/bookstore\n", 1)
		},
		"relative ExecStart": func(_, c string) string {
			return strings.Replace(c, "ExecStart=/usr/bin/docker", "ExecStart=docker-compose", 1)
		},
	} {
		if out, err := verifyUnits(t, p, edit); err == nil {
			t.Errorf("systemd-analyze accepted a unit with %s:\n%s", name, out)
		}
	}
}

func TestSystemdUnitsVerifyRejectsBrokenTimer(t *testing.T) {
	p := mustRender(t, renderers[1].render)
	edit := func(path, c string) string {
		if strings.HasSuffix(path, ".timer") {
			return strings.Replace(c, "OnUnitActiveSec=60s", "OnUnitActiveSec=every minute", 1)
		}
		return c
	}
	if out, err := verifyUnits(t, p, edit); err == nil {
		t.Errorf("systemd-analyze accepted a timer with a bad interval:\n%s", out)
	}
}
