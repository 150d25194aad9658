// Package dashboards holds the Grafana dashboard of s3limit serve
// (s3limit.json, the classic dashboard JSON model for Grafana 10 and
// later) and the tests that keep it in step with the metrics the server
// exports: every PromQL expression in it may name only metrics and labels
// a running server registers, and every s3limit metric appears in it.
// The example alerts in deploy/prometheus are held to the same rule.
package dashboards

import _ "embed"

// S3limit is the dashboard document: a Prometheus data source variable,
// a metric prefix variable (the server's -metricsNamespace, default
// s3limit) and an instance filter.
//
//go:embed s3limit.json
var S3limit []byte
