package watch_test

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/drydockscan/drydock/internal/server/watch"
)

// TestParseDistribution reads a notification envelope as the
// distribution registry sends it: the manifest pushed under a tag and
// the delete are kept; the blob push, the pull and the manifest pushed by
// digest alone (an index's child) are not.
func TestParseDistribution(t *testing.T) {
	b, err := os.ReadFile("testdata/distribution-events.json")
	if err != nil {
		t.Fatal(err)
	}
	got, err := watch.ParseDistribution(b)
	if err != nil {
		t.Fatal(err)
	}
	want := []watch.Push{
		{Action: watch.ActionPush, Host: "registry.internal:5000", Repository: "team/app", Tag: "1.4.2", Digest: "sha256:11f8d72f548854c826b2cb251d022e9705697f8b6f5c40bb849905913cb328f4"},
		{Action: watch.ActionDelete, Host: "registry.internal:5000", Repository: "team/app", Digest: "sha256:a2b56b61f980183dc3271486949d3ab049d62cbbda2baf4223b48897ecf5cfaa"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("pushes (-want +got):\n%s", d)
	}
}

// TestParseHarbor reads Harbor's Default webhook payload for a pushed
// artifact.
func TestParseHarbor(t *testing.T) {
	b, err := os.ReadFile("../testdata/harbor-push-artifact.json")
	if err != nil {
		t.Fatal(err)
	}
	got, err := watch.ParseHarbor(b)
	if err != nil {
		t.Fatal(err)
	}
	want := []watch.Push{{Action: watch.ActionPush, Host: "harbor.example.com", Repository: "library/nginx", Tag: "v1",
		Digest: "sha256:2f0d8e5f6a0c0ec3c1c7f2b6f4c1d0c9a7b3e2f1d0c9b8a7f6e5d4c3b2a19080"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("pushes (-want +got):\n%s", d)
	}
	del := strings.Replace(string(b), "PUSH_ARTIFACT", "DELETE_ARTIFACT", 1)
	if got, err := watch.ParseHarbor([]byte(del)); err != nil || len(got) != 1 || got[0].Action != watch.ActionDelete {
		t.Errorf("DELETE_ARTIFACT: %+v %v", got, err)
	}
	pull := strings.Replace(string(b), "PUSH_ARTIFACT", "PULL_ARTIFACT", 1)
	if got, err := watch.ParseHarbor([]byte(pull)); err != nil || len(got) != 0 {
		t.Errorf("PULL_ARTIFACT: %+v %v", got, err)
	}
}

// TestHookRefusals: names a reference could not hold are refused, with
// the offending name in the error.
func TestHookRefusals(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
		harbor           bool
	}{
		{"not JSON", `{"events":`, "envelope", false},
		{"path escape", `{"events":[{"action":"push","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","repository":"../etc","tag":"1","digest":"sha256:` + strings.Repeat("a", 64) + `"}}]}`, `"../etc"`, false},
		{"bad tag", `{"events":[{"action":"push","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","repository":"a/b","tag":"x y","digest":"sha256:` + strings.Repeat("a", 64) + `"}}]}`, `"x y"`, false},
		{"bad digest", `{"events":[{"action":"delete","target":{"repository":"a/b","digest":"md5:zz"}}]}`, `"md5:zz"`, false},
		{"harbor without repository", `{"type":"PUSH_ARTIFACT","event_data":{"resources":[{"tag":"1"}]}}`, "repository", true},
		{"harbor bad tag", `{"type":"PUSH_ARTIFACT","event_data":{"resources":[{"tag":"-x"}],"repository":{"repo_full_name":"a/b"}}}`, `"-x"`, true},
	} {
		parse := watch.ParseDistribution
		if tc.harbor {
			parse = watch.ParseHarbor
		}
		_, err := parse([]byte(tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one naming %s", tc.name, err, tc.want)
		}
	}
}

// TestParseSpec reads --watch values.
func TestParseSpec(t *testing.T) {
	for _, tc := range []struct {
		in, repo, glob, err string
	}{
		{"registry.example.com/team/app", "registry.example.com/team/app", "*", ""},
		{"registry.example.com/team/app:v1.*", "registry.example.com/team/app", "v1.*", ""},
		{"127.0.0.1:5000/corpus/app:*", "127.0.0.1:5000/corpus/app", "*", ""},
		{"localhost/app:latest", "localhost/app", "latest", ""},
		{"team/app:1", "", "", "with the registry's host"},
		{"app", "", "", "with the registry's host"},
		{"registry.example.com/team/app:[", "", "", "tag glob"},
		{"registry.example.com/Team/App", "", "", "repository"},
	} {
		s, err := watch.ParseSpec(tc.in, false)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want one saying %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || s.Repository.Name() != tc.repo || s.TagGlob != tc.glob {
			t.Errorf("%s: %s %q %v", tc.in, s.Repository.Name(), s.TagGlob, err)
		}
	}
}

// checkPushes: whatever a hook parser accepts names valid references.
func checkPushes(t *testing.T, ps []watch.Push) {
	for _, p := range ps {
		if _, err := name.NewRepository("registry.invalid/"+p.Repository, name.StrictValidation); err != nil {
			t.Fatalf("accepted repository %q: %v", p.Repository, err)
		}
		if p.Action != watch.ActionPush && p.Action != watch.ActionDelete {
			t.Fatalf("action %q", p.Action)
		}
	}
}

func FuzzParseDistribution(f *testing.F) {
	if b, err := os.ReadFile("testdata/distribution-events.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"events":[{"action":"push","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","repository":"a","tag":"b","digest":"sha256:0"}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ps, err := watch.ParseDistribution(b)
		if err == nil {
			checkPushes(t, ps)
		}
	})
}

func FuzzParseHarbor(f *testing.F) {
	if b, err := os.ReadFile("../testdata/harbor-push-artifact.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"type":"DELETE_ARTIFACT","event_data":{"resources":[{"digest":"sha256:1"}],"repository":{"namespace":"a","name":"b"}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ps, err := watch.ParseHarbor(b)
		if err == nil {
			checkPushes(t, ps)
		}
	})
}
