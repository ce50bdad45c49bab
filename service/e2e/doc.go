// Package e2e holds black-box tests of what the project ships: the container image
// built from the root Dockerfile and run with podman against a real MariaDB, the
// store walked over HTTP and in headless chromium, and the local compose file.
//
// The tests talk to the running container over HTTP only and import nothing from
// the service. What they need from the machine (podman, the two base images,
// chromium, BOOKSTORE_TEST_DATABASE_URL) is looked up first; when something is
// missing the test is skipped with a message that says what and how to get it,
// or fails when BOOKSTORE_TEST_STRICT=1 (CI). .ci/run sets all of it up.
package e2e
