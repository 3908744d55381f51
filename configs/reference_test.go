package configs_test

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/swavgo/swav/configs"
	"github.com/swavgo/swav/internal/settings"
)

var update = flag.Bool("update", false, "rewrite the config reference in ../README.md")

const (
	refStart = "<!-- config-reference:start (generated: go test ./configs -run TestReadmeReference -update) -->"
	refEnd   = "<!-- config-reference:end -->"
)

// TestReadmeReference keeps the README's config reference equal to the Job
// struct: one row per key with its type, default and doc comment.
func TestReadmeReference(t *testing.T) {
	dirs := []string{".", "../ingest", "../ingest/store", "../augment", "../train", "../sinks"}
	addDir := func(t reflect.Type) {
		if rel, ok := strings.CutPrefix(t.PkgPath(), "github.com/swavgo/swav/"); ok && !slices.Contains(dirs, "../"+rel) {
			dirs = append(dirs, "../"+rel)
		}
	}
	for _, section := range settings.Sections() { // the owners of the registered sub-sections
		for _, key := range settings.Keys(section) {
			t := reflect.TypeOf(settings.New(section, key)).Elem()
			addDir(t)
			for _, f := range reflect.VisibleFields(t) { // and of the structs inline in them
				if _, opts, _ := strings.Cut(f.Tag.Get("yaml"), ","); strings.Contains(opts, "inline") && f.Type.Kind() == reflect.Struct {
					addDir(f.Type)
				}
			}
		}
	}
	docs := fieldDocs(t, dirs...)
	var b strings.Builder
	b.WriteString("| key | type | default | meaning |\n|---|---|---|---|\n")
	def := configs.Default()
	reference(&b, reflect.ValueOf(def), "", docs)
	table := b.String()

	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	i, j := strings.Index(text, refStart), strings.Index(text, refEnd)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the markers %q ... %q", refStart, refEnd)
	}
	want := text[:i+len(refStart)] + "\n" + table + text[j:]
	if want == text {
		return
	}
	if *update {
		if err := os.WriteFile("../README.md", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatal("README.md's config reference is stale (a config key changed): run go test ./configs -run TestReadmeReference -update")
}

// reference writes one row per leaf key of v (structs are walked; lists of
// structs are walked through their first default element or a zero one).
func reference(b *strings.Builder, v reflect.Value, prefix string, docs map[string]string) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") && f.Type.Kind() == reflect.Struct {
			reference(b, v.Field(i), prefix, docs) // its keys are the section's own
			continue
		}
		if f.Type == reflect.TypeFor[settings.Set]() {
			// The registered sub-sections, each under its key, documented
			// by its owner's type.
			for _, sub := range settings.Keys(prefix) {
				key := sub
				if prefix != "" {
					key = prefix + "." + sub
				}
				val := reflect.ValueOf(settings.New(prefix, sub)).Elem()
				if strings.HasSuffix(val.Type().PkgPath(), "_test") {
					continue // a test's own kind
				}
				fmt.Fprintf(b, "| `%s` | section | | %s (`%s.%s`) |\n", key,
					docs[path.Base(val.Type().PkgPath())+"."+val.Type().Name()],
					strings.TrimPrefix(val.Type().PkgPath(), "github.com/swavgo/swav/"), val.Type().Name())
				reference(b, val, key, docs)
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		key := name
		if prefix != "" {
			key = prefix + "." + name
		}
		fv := v.Field(i)
		doc := docs[path.Base(t.PkgPath())+"."+t.Name()+"."+f.Name]
		ft := f.Type
		switch {
		case ft.Kind() == reflect.Struct && ft != reflect.TypeFor[time.Duration]():
			if doc != "" {
				fmt.Fprintf(b, "| `%s` | section | | %s |\n", key, doc)
			}
			reference(b, fv, key, docs)
			continue
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			fmt.Fprintf(b, "| `%s` | list | %s | %s |\n", key, cell(fv), doc)
			elem := reflect.New(ft.Elem()).Elem()
			if fv.Len() > 0 {
				elem = fv.Index(0)
			}
			reference(b, elem, key+"[i]", docs)
			continue
		}
		fmt.Fprintf(b, "| `%s` | %s | %s | %s |\n", key, typeLabel(ft), cell(fv), doc)
	}
}

func typeLabel(t reflect.Type) string {
	switch {
	case t == reflect.TypeFor[time.Duration]():
		return "duration"
	case t.Kind() == reflect.Pointer:
		return typeLabel(t.Elem()) + " (optional)"
	case t.Kind() == reflect.Slice:
		return "list of " + typeLabel(t.Elem())
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		return "int"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "float"
	default:
		return t.Kind().String()
	}
}

// cell renders a default value for the table.
func cell(v reflect.Value) string {
	switch {
	case v.Kind() == reflect.Pointer && v.IsNil(), v.Kind() == reflect.Slice && v.IsNil():
		return ""
	case v.Type() == reflect.TypeFor[time.Duration]():
		return "`" + v.Interface().(time.Duration).String() + "`"
	case v.Kind() == reflect.String && v.String() == "":
		return `""`
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Struct:
		return fmt.Sprintf("%d entries", v.Len())
	}
	s := fmt.Sprint(v.Interface())
	if v.Kind() == reflect.Pointer {
		s = fmt.Sprint(v.Elem().Interface())
	}
	return "`" + strings.ReplaceAll(s, "|", `\|`) + "`"
}

// fieldDocs maps "Type.Field" to the field's doc comment (one line) for the
// non-test Go files of dirs.
func fieldDocs(t *testing.T, dirs ...string) map[string]string {
	docs := map[string]string{}
	fset := token.NewFileSet()
	for _, dir := range dirs {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, path := range files {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range f.Decls { // a type's doc: "pkg.Type" (its first sentence)
				if gd, ok := d.(*ast.GenDecl); ok && gd.Tok == token.TYPE && len(gd.Specs) == 1 {
					text := strings.Join(strings.Fields(gd.Doc.Text()), " ")
					if i := strings.Index(text, ". "); i >= 0 {
						text = text[:i+1]
					}
					docs[f.Name.Name+"."+gd.Specs[0].(*ast.TypeSpec).Name.Name] = strings.ReplaceAll(text, "|", `\|`)
				}
			}
			ast.Inspect(f, func(n ast.Node) bool {
				ts, ok := n.(*ast.TypeSpec)
				if !ok {
					return true
				}
				st, ok := ts.Type.(*ast.StructType)
				if !ok {
					return false
				}
				for _, field := range st.Fields.List {
					text := strings.Join(strings.Fields(field.Doc.Text()), " ")
					if text == "" {
						text = strings.Join(strings.Fields(field.Comment.Text()), " ")
					}
					text = strings.ReplaceAll(text, "|", `\|`)
					for _, name := range field.Names {
						docs[f.Name.Name+"."+ts.Name.Name+"."+name.Name] = text
					}
				}
				return false
			})
		}
	}
	return docs
}
