// Package deploy holds no code of foyer's: it is the home of the deployment files (the container
// image definition, the Helm chart, the Grafana dashboard, the Prometheus rules and the HAProxy
// example) and of the tests that check them.
//
// The chart tests render deploy/helm/foyer with the real `helm` binary for each values file in
// the chart's ci/ folder and check the objects: the kinds, the probes, the non-root and
// read-only settings, the replicas, the Secret references, the Redis mode written into the
// ConfigMap, and that the ConfigMap's foyer.yaml passes foyer's own configuration parser and
// validation, with the keys Secret loading as an admission key directory. Without helm the tests
// skip, unless FOYER_CI=1 (set by .ci/run), where they fail.
//
// The observability tests check that every metric the dashboard and the alert rules use is one
// the gateway exports.
package deploy
