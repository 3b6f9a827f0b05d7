// Package fault holds Parley's fault-test suite: it builds the real binary, runs its roles (web,
// worker, scheduler) as separate processes against PostgreSQL and private Redis (and, for one
// scenario, a private PostgreSQL cluster), fakes Meta's Graph API and an OpenAI-compatible LLM
// with httptest servers, injects faults (kill -9, Redis and PostgreSQL outages, duplicate
// deliveries, SIGTERM) under load, and checks the database afterwards.
//
// The tests are behind the build tag "fault", so that `go test ./...` does not run them:
//
//	go test -tags fault -count=1 -timeout 12m ./app/fault/
//
// RELIABILITY.md at the repository root describes the scenarios and their figures.
package fault
