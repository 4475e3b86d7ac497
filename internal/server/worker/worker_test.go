package worker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

func TestNames(t *testing.T) {
	for _, tc := range []struct {
		ref, image, repo string
		tags             []string
	}{
		{"reg.example:5000/team/app:1.4", "", "reg.example:5000/team/app", []string{"1.4"}},
		{"reg.example/app@sha256:" + fmt.Sprintf("%064d", 0), "", "reg.example/app", nil},
		{"", "ghcr.io/o/app:2", "ghcr.io/o/app", []string{"2"}},
		{"Not A Ref", "", "", nil},
	} {
		repo, tags := Names(tc.ref, tc.image)
		if repo != tc.repo || !slices.Equal(tags, tc.tags) {
			t.Errorf("Names(%q, %q) = %q %v, want %q %v", tc.ref, tc.image, repo, tags, tc.repo, tc.tags)
		}
	}
}

func TestTransient(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&transport.Error{StatusCode: http.StatusServiceUnavailable}, true},
		{&transport.Error{StatusCode: http.StatusTooManyRequests}, true},
		{fmt.Errorf("pull: %w", &transport.Error{StatusCode: http.StatusNotFound}), false},
		{fmt.Errorf("dial: %w", syscall.ECONNREFUSED), true},
		{context.DeadlineExceeded, true},
		{errors.New("layer 2: /etc/passwd: path escapes the image"), false},
	} {
		if got := Transient(tc.err); got != tc.want {
			t.Errorf("Transient(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
