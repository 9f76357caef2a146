// A small Helm-compatible renderer for the tests (helm itself is not in
// Debian): Go's text/template with the Sprig functions Helm uses and
// Helm's own include, toYaml, required and tpl, over .Values (values.yaml,
// then -f files merged over it), .Release and .Chart. It renders the
// templates of one chart the way `helm template` does for the subset the
// chart uses; what it cannot do (subcharts, hooks, lookup) it refuses.
//
//	render [-f values.yaml]... [-name sonde] [-namespace sonde] CHART_DIR
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	"gopkg.in/yaml.v3"
)

type files []string

func (f *files) String() string     { return strings.Join(*f, ",") }
func (f *files) Set(s string) error { *f = append(*f, s); return nil }

func readYAML(path string) (map[string]interface{}, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m := map[string]interface{}{}
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return m, nil
}

// merge: src over dst, maps recursively (as helm merges -f files).
func merge(dst, src map[string]interface{}) map[string]interface{} {
	for k, v := range src {
		if sm, ok := v.(map[string]interface{}); ok {
			if dm, ok := dst[k].(map[string]interface{}); ok {
				dst[k] = merge(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
	return dst
}

func toYAML(v interface{}) string {
	var b bytes.Buffer
	e := yaml.NewEncoder(&b)
	e.SetIndent(2)
	if err := e.Encode(v); err != nil {
		return ""
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func main() {
	var vals files
	flag.Var(&vals, "f", "values file merged over the chart's (repeatable)")
	name := flag.String("name", "sonde", "release name")
	ns := flag.String("namespace", "sonde", "release namespace")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: render [-f values.yaml]... CHART_DIR")
		os.Exit(2)
	}
	dir := flag.Arg(0)
	chart, err := readYAML(filepath.Join(dir, "Chart.yaml"))
	must(err)
	if _, err := os.Stat(filepath.Join(dir, "charts")); err == nil {
		must(fmt.Errorf("subcharts are not supported by this renderer"))
	}
	values, err := readYAML(filepath.Join(dir, "values.yaml"))
	must(err)
	for _, f := range vals {
		m, err := readYAML(f)
		must(err)
		values = merge(values, m)
	}
	data := map[string]interface{}{
		"Values":  values,
		"Release": map[string]interface{}{"Name": *name, "Namespace": *ns, "Service": "Helm"},
		"Chart": map[string]interface{}{"Name": chart["name"], "Version": chart["version"],
			"AppVersion": chart["appVersion"]},
	}
	t := template.New("chart").Option("missingkey=zero")
	funcs := sprig.TxtFuncMap()
	funcs["toYaml"] = toYAML
	funcs["include"] = func(n string, d interface{}) (string, error) {
		var b bytes.Buffer
		err := t.ExecuteTemplate(&b, n, d)
		return b.String(), err
	}
	funcs["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil || v == "" {
			return nil, fmt.Errorf("%s", msg)
		}
		return v, nil
	}
	funcs["lookup"] = func(...interface{}) (interface{}, error) {
		return nil, fmt.Errorf("lookup is not supported by this renderer")
	}
	t.Funcs(funcs)
	paths, err := filepath.Glob(filepath.Join(dir, "templates", "*"))
	must(err)
	sort.Strings(paths)
	var docs []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		must(err)
		_, err = t.New(filepath.Base(p)).Parse(string(b))
		must(err)
	}
	for _, p := range paths {
		base := filepath.Base(p)
		if strings.HasPrefix(base, "_") || !(strings.HasSuffix(base, ".yaml") || strings.HasSuffix(base, ".yml")) {
			continue
		}
		var b bytes.Buffer
		must(t.ExecuteTemplate(&b, base, data))
		if s := strings.TrimSpace(b.String()); s != "" {
			docs = append(docs, "# Source: "+filepath.Base(dir)+"/templates/"+base+"\n"+s+"\n")
		}
	}
	fmt.Print("---\n" + strings.Join(docs, "---\n"))
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
}
