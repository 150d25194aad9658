package dashboards

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	dto "github.com/prometheus/client_model/go"

	"github.com/s3limit/s3limit/internal/limits"
	"github.com/s3limit/s3limit/internal/metrics"
	"github.com/s3limit/s3limit/internal/server/servertest"
)

// The parts of the classic dashboard model the tests read.
type dashboard struct {
	UID           string `json:"uid"`
	Title         string `json:"title"`
	SchemaVersion int    `json:"schemaVersion"`
	Panels        []panel
	Templating    struct {
		List []variable `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int     `json:"id"`
	Type       string  `json:"type"`
	Title      string  `json:"title"`
	GridPos    gridPos `json:"gridPos"`
	Datasource *dsRef  `json:"datasource"`
	Targets    []struct {
		RefID      string `json:"refId"`
		Expr       string `json:"expr"`
		Datasource *dsRef `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // of a collapsed row
}

type gridPos struct{ X, Y, W, H int }

type dsRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"`
	Definition string          `json:"definition"`
	AllValue   string          `json:"allValue"`
	IncludeAll bool            `json:"includeAll"`
	Datasource *dsRef          `json:"datasource"`
}

// promDS is the data source every query uses: the dashboard's data
// source variable, so the dashboard imports into any Grafana.
var promDS = dsRef{Type: "prometheus", UID: "${datasource}"}

// panelTypes are the visualisations the dashboard may use.
var panelTypes = map[string]bool{"row": true, "timeseries": true, "table": true, "stat": true, "gauge": true, "bargauge": true}

func load(t testing.TB) *dashboard {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(S3limit))
	var d dashboard
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("s3limit.json: %v", err)
	}
	return &d
}

// allPanels returns the panels, those inside collapsed rows included.
func (d *dashboard) allPanels() []panel {
	var out []panel
	for _, p := range d.Panels {
		out = append(out, p)
		out = append(out, p.Panels...)
	}
	return out
}

func (d *dashboard) variable(name string) *variable {
	for i := range d.Templating.List {
		if d.Templating.List[i].Name == name {
			return &d.Templating.List[i]
		}
	}
	return nil
}

func TestDashboardModel(t *testing.T) {
	d := load(t)
	if d.UID == "" || len(d.UID) > 40 || d.Title == "" {
		t.Errorf("uid %q, title %q: want a uid of 1 to 40 characters and a title", d.UID, d.Title)
	}
	// 38 is the schema Grafana 10.0 writes; later versions migrate it.
	if d.SchemaVersion < 36 || d.SchemaVersion > 41 {
		t.Errorf("schemaVersion %d, want a Grafana 10+ schema (36..41)", d.SchemaVersion)
	}
	if v := d.variable("datasource"); v == nil || v.Type != "datasource" || string(v.Query) != `"prometheus"` {
		t.Errorf("no Prometheus data source variable named datasource: %+v", v)
	}
	if v := d.variable("ns"); v == nil || v.Type != "textbox" || string(v.Query) != `"s3limit"` {
		t.Errorf("no metric prefix variable ns defaulting to s3limit: %+v", v)
	}
	for _, v := range d.Templating.List {
		if v.Type == "query" && (v.Datasource == nil || *v.Datasource != promDS) {
			t.Errorf("variable %s queries %+v, want %+v", v.Name, v.Datasource, promDS)
		}
	}

	ids := map[int]string{}
	var placed []panel
	for _, p := range d.allPanels() {
		if !panelTypes[p.Type] {
			t.Errorf("panel %q: unknown type %q", p.Title, p.Type)
		}
		if p.Title == "" {
			t.Errorf("panel %d has no title", p.ID)
		}
		if other, dup := ids[p.ID]; dup || p.ID <= 0 {
			t.Errorf("panel %q: id %d not unique and positive (also %q)", p.Title, p.ID, other)
		}
		ids[p.ID] = p.Title
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: gridPos %+v outside the 24-column grid", p.Title, g)
		}
		for _, q := range placed {
			h := q.GridPos
			if g.X < h.X+h.W && h.X < g.X+g.W && g.Y < h.Y+h.H && h.Y < g.Y+g.H {
				t.Errorf("panels %q %+v and %q %+v overlap", p.Title, g, q.Title, h)
			}
		}
		placed = append(placed, p)
		if p.Type == "row" {
			if len(p.Targets) > 0 {
				t.Errorf("row %q has queries", p.Title)
			}
			continue
		}
		if p.Datasource == nil || *p.Datasource != promDS {
			t.Errorf("panel %q: data source %+v, want %+v", p.Title, p.Datasource, promDS)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no queries", p.Title)
		}
		refIDs := map[string]bool{}
		for _, q := range p.Targets {
			if q.RefID == "" || refIDs[q.RefID] {
				t.Errorf("panel %q: refId %q empty or repeated", p.Title, q.RefID)
			}
			refIDs[q.RefID] = true
			if strings.TrimSpace(q.Expr) == "" {
				t.Errorf("panel %q query %s has no expression", p.Title, q.RefID)
			}
			if q.Datasource != nil && *q.Datasource != promDS {
				t.Errorf("panel %q query %s: data source %+v, want %+v", p.Title, q.RefID, q.Datasource, promDS)
			}
		}
	}
}

// query is one PromQL expression of the dashboard, its variables
// replaced.
type query struct {
	where string // panel and refId, or variable
	expr  string
	label string // label_values: the label whose values are listed
}

// builtins are Grafana's own variables the expressions may use, with a
// value that makes the expression valid PromQL.
var builtins = map[string]string{"__rate_interval": "5m", "__interval": "1m", "__range": "1h"}

var varRE = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)(?::[^}]*)?\}|\$([A-Za-z0-9_]+)|\[\[([A-Za-z0-9_]+)\]\]`)

// interpolate replaces the variables in s with values: the metric prefix
// with ns, a multi-value variable with its all-value, Grafana's own with
// builtins. An undefined variable is an error.
func interpolate(s, ns string, d *dashboard) (string, error) {
	var bad []string
	out := varRE.ReplaceAllStringFunc(s, func(m string) string {
		sm := varRE.FindStringSubmatch(m)
		name := sm[1] + sm[2] + sm[3]
		if v, ok := builtins[name]; ok {
			return v
		}
		switch v := d.variable(name); {
		case name == "ns":
			return ns
		case v != nil && v.Type == "query" && v.IncludeAll:
			return v.AllValue
		}
		bad = append(bad, m)
		return m
	})
	if len(bad) > 0 {
		return "", fmt.Errorf("undefined variable %s in %q", strings.Join(bad, ", "), s)
	}
	return out, nil
}

var labelValuesRE = regexp.MustCompile(`^label_values\((.+),\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)$`)

// dashboardQueries returns every PromQL expression of the dashboard with
// the metric prefix ns: panel queries and query variables.
func dashboardQueries(t testing.TB, ns string) []query {
	t.Helper()
	d := load(t)
	var out []query
	add := func(where, expr, label string) {
		s, err := interpolate(expr, ns, d)
		if err != nil {
			t.Errorf("%s: %v", where, err)
			return
		}
		out = append(out, query{where: where, expr: s, label: label})
	}
	for _, p := range d.allPanels() {
		for _, q := range p.Targets {
			add(fmt.Sprintf("panel %q query %s", p.Title, q.RefID), q.Expr, "")
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			t.Fatalf("variable %s: query: %v", v.Name, err)
		}
		if q.Query != v.Definition {
			t.Errorf("variable %s: query %q differs from its definition %q", v.Name, q.Query, v.Definition)
		}
		m := labelValuesRE.FindStringSubmatch(q.Query)
		if m == nil {
			t.Fatalf("variable %s: query %q is not label_values(<selector>, <label>)", v.Name, q.Query)
		}
		add("variable "+v.Name, m[1], m[2])
	}
	return out
}

// dashboardExprs is dashboardQueries for the default prefix.
func dashboardExprs(t testing.TB) []query { return dashboardQueries(t, "s3limit") }

// targetLabels are added by Prometheus when it scrapes a server.
var targetLabels = []string{"instance", "job"}

// exported is what a server exports: each series name with its labels,
// and the family each name belongs to (a histogram's _bucket, _sum and
// _count belong to the histogram).
type exported struct {
	labels map[string]map[string]bool
	family map[string]string
}

// exportedMetrics starts a server with metric prefix ns and a limit in
// every scope, sends it a request and an upload, and returns what its
// registry exports.
func exportedMetrics(t *testing.T, ns string) exported {
	t.Helper()
	cfg := &limits.Config{
		Global:  &limits.Section{Enabled: true, Actions: map[string]int64{"Read:count": 100, "Write:bytes/s": 1 << 30}},
		Buckets: map[string]*limits.Section{"bkt": {Enabled: true, Actions: map[string]int64{"Write:ops/s": 1000}}},
		Users:   map[string]*limits.Section{"admin": {Enabled: true, Shadow: true, Actions: map[string]int64{"Write:count": 0}}},
	}
	srv := servertest.Start(t, servertest.Options{MetricsNamespace: ns, CircuitBreaker: cfg})
	c := srv.Client()
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bkt")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"), Body: strings.NewReader("data")}); err != nil {
		t.Fatal(err)
	}
	// A histogram's children appear once observed; waiting for room
	// needs a request held in flight, so the wait is recorded directly.
	srv.Metrics().ObserveLimitWait(metrics.ScopeBucket, 0)
	// The upstream metrics appear in gateway mode, with the first probe
	// of the store: recorded directly too.
	srv.Metrics().UpstreamProbe(true, 0)
	families, err := srv.Metrics().Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	e := exported{labels: map[string]map[string]bool{}, family: map[string]string{}}
	for _, f := range families {
		labels := map[string]bool{}
		for _, l := range targetLabels {
			labels[l] = true
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = true
			}
		}
		names := map[string]map[string]bool{f.GetName(): labels}
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM:
			names = map[string]map[string]bool{f.GetName() + "_bucket": with(labels, "le"), f.GetName() + "_sum": labels, f.GetName() + "_count": labels}
		case dto.MetricType_SUMMARY:
			names = map[string]map[string]bool{f.GetName(): with(labels, "quantile"), f.GetName() + "_sum": labels, f.GetName() + "_count": labels}
		}
		for n, l := range names {
			e.labels[n] = l
			e.family[n] = f.GetName()
		}
	}
	return e
}

func with(labels map[string]bool, extra string) map[string]bool {
	out := map[string]bool{extra: true}
	for l := range labels {
		out[l] = true
	}
	return out
}

func keys(m map[string]bool) string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// Every expression names only metrics the server exports, and only
// labels those metrics carry, whatever the metric prefix.
func TestDashboardQueriesUseExportedMetrics(t *testing.T) {
	for _, ns := range []string{"s3limit", "seaweedfs"} {
		t.Run(ns, func(t *testing.T) {
			ex := exportedMetrics(t, ns)
			for _, q := range dashboardQueries(t, ns) {
				r, err := parsePromQL(q.expr)
				if err != nil {
					t.Errorf("%s: %v\n%s", q.where, err, q.expr)
					continue
				}
				if len(r.Metrics) == 0 {
					t.Errorf("%s names no metric: %s", q.where, q.expr)
				}
				allowed := map[string]bool{}
				for _, m := range r.Metrics {
					labels, ok := ex.labels[m]
					if !ok {
						t.Errorf("%s: metric %s is not exported by the server", q.where, m)
					}
					for l := range labels {
						allowed[l] = true
					}
				}
				if q.label != "" {
					r.Labels = append(r.Labels, q.label)
				}
				for _, l := range r.Labels {
					if !allowed[l] {
						t.Errorf("%s: label %q is not a label of %s (labels: %s)", q.where, l, strings.Join(r.Metrics, ", "), keys(allowed))
					}
				}
			}
		})
	}
}

// Every metric of the server is on the dashboard: a new metric fails
// this test until it gets a panel.
func TestDashboardShowsEveryMetric(t *testing.T) {
	ex := exportedMetrics(t, "s3limit")
	shown := map[string]bool{}
	for _, q := range dashboardExprs(t) {
		r, err := parsePromQL(q.expr)
		if err != nil {
			t.Fatalf("%s: %v", q.where, err)
		}
		for _, m := range r.Metrics {
			shown[ex.family[m]] = true
		}
	}
	missing := map[string]bool{}
	for _, fam := range ex.family {
		if strings.HasPrefix(fam, "s3limit_") && !shown[fam] {
			missing[fam] = true
		}
	}
	if len(missing) > 0 {
		t.Errorf("metrics not on the dashboard: %s", keys(missing))
	}
}
