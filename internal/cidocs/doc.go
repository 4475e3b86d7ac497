// Package cidocs holds no code: its tests run the CI examples of
// docs/ci.md, the GitHub Action (action.yml) and the GitLab template
// (ci/gitlab/drydock.gitlab-ci.yml) with the drydock binary built from this
// tree, against an image of the test corpus and an offline copy of the
// vulnerability data, and check the reports they produce. They also check
// the Dockerfile statically.
package cidocs
