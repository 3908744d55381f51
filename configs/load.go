package configs

import (
	"bytes"
	"embed"
	"encoding"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/swavgo/swav/internal/field"
	"github.com/swavgo/swav/internal/settings"
)

//go:embed *.yaml
var examples embed.FS

// Examples returns the embedded example configs by file name.
func Examples() map[string][]byte {
	out := map[string][]byte{}
	entries, _ := examples.ReadDir(".")
	for _, e := range entries {
		data, err := examples.ReadFile(e.Name())
		if err == nil {
			out[e.Name()] = data
		}
	}
	return out
}

// Example returns one embedded example config ("demo.yaml").
func Example(name string) ([]byte, error) {
	data, err := examples.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("no embedded config %q (have %v): %w", name, slices.Sorted(maps.Keys(Examples())), err)
	}
	return data, nil
}

// DefaultExampleName is the embedded config `pipeline run` uses without a
// CONFIG argument: quickstart.yaml when embedded, else demo.yaml.
func DefaultExampleName() string {
	if _, err := examples.ReadFile("quickstart.yaml"); err == nil {
		return "quickstart.yaml"
	}
	return "demo.yaml"
}

// Load reads the YAML file at path (see LoadBytes).
func Load(path string, sets []string) (*Job, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return LoadBytes(path, data, sets)
}

// LoadBytes builds a Job: it starts from Default(), lays the YAML document
// over it (a key present in the file replaces the default, lists as a
// whole), applies the --set overrides ("train.optim.base_lr=0.6",
// "augment.crops.1.size=128", values parsed as YAML: `[0, 1]`, `true`,
// `"text"`), checks every key and value type against the Job struct (an
// unknown key or a wrong type is a *field.Error naming the file, line
// and dotted field path) and finally runs Validate. name is used in errors.
// All problems found are returned together (errors.Join).
func LoadBytes(name string, data []byte, sets []string) (*Job, error) {
	def := Default()
	var tree yaml.Node
	if err := tree.Encode(&def); err != nil {
		return nil, fmt.Errorf("encode defaults: %w", err)
	}
	forget(&tree)

	src := &sourceMap{file: name, lines: map[string]int{}, sets: map[string]bool{}}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(doc.Content) > 0 {
		root := doc.Content[0]
		if isNull(root) {
			root = nil
		} else if root.Kind != yaml.MappingNode {
			return nil, &field.Error{File: name, Line: root.Line, Field: "(document)", Msg: "must be a mapping of sections"}
		}
		if root != nil {
			budget := maxNodes
			if root = expandAliases(root, &budget); root == nil {
				return nil, fmt.Errorf("%s: more than %d values once aliases are expanded", name, maxNodes)
			}
			src.record(root, "")
			tree = *merge(&tree, root)
		}
	}
	var errs []error
	for _, set := range sets {
		if err := applySet(&tree, set, src); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		errs = renameKeys(&tree, src)
		errs = append(errs, check(&tree, reflect.TypeFor[Job](), "", src)...)
	}
	if len(errs) > 0 {
		// Every problem at once: the values that did decode are validated
		// too, and their range errors join the key and type errors (a field
		// already reported is not reported twice).
		return nil, errors.Join(append(errs, validatePartial(&tree, src, errs)...)...)
	}
	// The tree is known good; decode it strictly as a last safety net.
	text, err := yaml.Marshal(&tree)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	job := Default()
	dec := yaml.NewDecoder(bytes.NewReader(text))
	dec.KnownFields(true)
	if err := dec.Decode(&job); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := decodeSets(reflect.ValueOf(&job).Elem(), &tree, "", true); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	job.src = src
	if err := job.Validate(); err != nil {
		return nil, err
	}
	return &job, nil
}

// validatePartial decodes what it can of a tree that failed the key and type
// check (unknown keys and mistyped values keep their defaults) and returns the
// validation errors of fields not among reported.
func validatePartial(tree *yaml.Node, src *sourceMap, reported []error) []error {
	text, err := yaml.Marshal(tree)
	if err != nil {
		return nil
	}
	job := Default()
	_ = yaml.Unmarshal(text, &job) // partial on type errors, by design
	_ = decodeSets(reflect.ValueOf(&job).Elem(), tree, "", false)
	job.src = src
	seen := map[string]bool{}
	for _, e := range flatten(reported...) {
		var fe *field.Error
		if errors.As(e, &fe) {
			seen[canonical(fe.Field)] = true
		}
	}
	var out []error
	for _, e := range flatten(job.Validate()) {
		var fe *field.Error
		if errors.As(e, &fe) && seen[canonical(fe.Field)] {
			continue
		}
		out = append(out, e)
	}
	return out
}

// flatten lists the errors of an errors.Join tree (nil: none).
func flatten(errs ...error) []error {
	var out []error
	for _, err := range errs {
		if err == nil {
			continue
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			out = append(out, flatten(j.Unwrap()...)...)
			continue
		}
		out = append(out, err)
	}
	return out
}

// sourceMap remembers where each field of a loaded Job came from.
type sourceMap struct {
	file  string
	lines map[string]int  // dotted path -> line in file
	sets  map[string]bool // dotted paths set by --set
}

// record notes the line of every key and list item under node.
func (s *sourceMap) record(node *yaml.Node, path string) {
	switch node.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(node.Content); i += 2 {
			p := joinPath(path, node.Content[i].Value)
			s.lines[p] = node.Content[i].Line
			s.record(node.Content[i+1], p)
		}
	case yaml.SequenceNode:
		for i, item := range node.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			s.lines[p] = item.Line
			s.record(item, p)
		}
	}
}

// given reports whether the file or a --set named path or a key under it.
func (s *sourceMap) given(path string) bool {
	path = canonical(path)
	for p := range s.lines {
		if _, ok := under(p, path); ok {
			return true
		}
	}
	for p := range s.sets {
		if _, ok := under(p, path); ok {
			return true
		}
	}
	return false
}

// under reports whether p is path or a key under it, and the rest of p
// after path ("", ".x" or "[0]...").
func under(p, path string) (rest string, ok bool) {
	rest, ok = strings.CutPrefix(p, path)
	return rest, ok && (rest == "" || rest[0] == '.' || rest[0] == '[')
}

// alias makes the lines and --set marks recorded under path old answer
// for the same keys under path to as well (a renamed key).
func (s *sourceMap) alias(old, to string) {
	old, to = canonical(old), canonical(to)
	for p, line := range maps.Clone(s.lines) {
		if rest, ok := under(p, old); ok {
			s.lines[to+rest] = line
		}
	}
	for p := range maps.Clone(s.sets) {
		if rest, ok := under(p, old); ok {
			s.sets[to+rest] = true
		}
	}
}

// lookup returns the file and line of field ("--set" for an override or a
// section one created), or of its closest ancestor found in the file. Both
// are empty for a default value.
func (s *sourceMap) lookup(field string) (string, int) {
	for p := canonical(field); p != ""; p = parent(p) {
		if s.sets[p] {
			return "--set", 0
		}
		if line, ok := s.lines[p]; ok {
			return s.file, line
		}
	}
	for p := range s.sets { // a section an override created (extract.quickstart of extract.quickstart.knn=...)
		if strings.HasPrefix(p, canonical(field)+".") {
			return "--set", 0
		}
	}
	return s.file, 0
}

// canonical turns "crops.1.size" into "crops[1].size".
func canonical(path string) string {
	parts := strings.Split(path, ".")
	var b strings.Builder
	for i, p := range parts {
		if _, err := strconv.Atoi(p); err == nil && i > 0 {
			b.WriteString("[" + p + "]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

// parent drops the last element of a dotted path.
func parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// maxNodes bounds the expanded size of a config (an alias bomb is refused).
const maxNodes = 1 << 16

// expandAliases returns a deep copy of n with every alias replaced by a copy
// of its anchor's value and no anchors left, so that merging and --set never
// touch two places at once and the re-encoded tree needs no anchors. It
// returns nil once *budget nodes were copied.
func expandAliases(n *yaml.Node, budget *int) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if *budget--; *budget < 0 {
		return nil
	}
	out := *n
	out.Anchor = ""
	out.Content = make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		if out.Content[i] = expandAliases(c, budget); out.Content[i] == nil {
			return nil
		}
	}
	return &out
}

// forget clears the positions of a generated tree so that errors never
// point into it.
func forget(n *yaml.Node) {
	n.Line, n.Column = 0, 0
	for _, c := range n.Content {
		forget(c)
	}
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// merge lays src over dst: mappings merge key by key, anything else replaces.
func merge(dst, src *yaml.Node) *yaml.Node {
	if dst.Kind != yaml.MappingNode || src.Kind != yaml.MappingNode {
		return src
	}
	out := *dst
	out.Content = slices.Clone(dst.Content)
	for i := 0; i+1 < len(src.Content); i += 2 {
		key, val := src.Content[i], src.Content[i+1]
		if j := keyIndex(&out, key.Value); j >= 0 {
			out.Content[j+1] = merge(out.Content[j+1], val)
		} else {
			out.Content = append(out.Content, key, val)
		}
	}
	return &out
}

// keyIndex is the index of key's key node in a mapping, or -1.
func keyIndex(m *yaml.Node, key string) int {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return i
		}
	}
	return -1
}

// applySet applies one "a.b.c=value" override to the tree.
func applySet(tree *yaml.Node, set string, src *sourceMap) error {
	key, value, ok := strings.Cut(set, "=")
	key = strings.TrimSpace(key)
	if !ok || key == "" {
		return &field.Error{File: "--set", Field: set, Msg: "want key=value, e.g. train.optim.base_lr=0.6"}
	}
	path := canonical(key)
	fail := func(format string, args ...any) error {
		return &field.Error{File: "--set", Field: path, Msg: fmt.Sprintf(format, args...)}
	}
	var parsed yaml.Node
	if err := yaml.Unmarshal([]byte(value), &parsed); err != nil {
		return fail("value %q is not YAML: %v", value, err)
	}
	val := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: ""}
	if len(parsed.Content) > 0 {
		val = parsed.Content[0]
	}
	forget(val)

	cur := tree
	parts := strings.Split(key, ".")
	for i, part := range parts {
		last := i == len(parts)-1
		if isNull(cur) {
			*cur = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		}
		switch cur.Kind {
		case yaml.MappingNode:
			j := keyIndex(cur, part)
			if j < 0 {
				// Unknown keys are reported by the type check, with the path.
				next := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
				cur.Content = append(cur.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: part}, next)
				j = len(cur.Content) - 2
			}
			if last {
				cur.Content[j+1] = val
			}
			cur = cur.Content[j+1]
		case yaml.SequenceNode:
			idx, err := strconv.Atoi(part)
			if err != nil || idx < 0 || idx > len(cur.Content) {
				return fail("%q is not an index of this list (0..%d)", part, len(cur.Content))
			}
			if idx == len(cur.Content) {
				cur.Content = append(cur.Content, &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"})
			}
			if last {
				cur.Content[idx] = val
			}
			cur = cur.Content[idx]
		default:
			return fail("%s is a single value; it has no field %q", strings.Join(parts[:i], "."), part)
		}
	}
	src.sets[path] = true
	return nil
}

var (
	unmarshalerType     = reflect.TypeFor[yaml.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	durationType        = reflect.TypeFor[time.Duration]()
	setType             = reflect.TypeFor[settings.Set]()
)

// check walks the tree against type t and reports every unknown key and
// every value of the wrong shape or type, naming the dotted path and line.
func check(node *yaml.Node, t reflect.Type, path string, src *sourceMap) []error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if node.Kind == yaml.AliasNode && node.Alias != nil {
		node = node.Alias
	}
	if isNull(node) || t.Kind() == reflect.Interface {
		return nil
	}
	fail := func(format string, args ...any) []error {
		fe := &field.Error{Field: path, Msg: fmt.Sprintf(format, args...), File: src.file, Line: node.Line}
		if node.Line == 0 {
			fe.File, fe.Line = src.lookup(path)
		}
		return []error{fe}
	}
	pt := reflect.PointerTo(t)
	custom := pt.Implements(unmarshalerType) || pt.Implements(textUnmarshalerType) || t == durationType
	switch {
	case custom || (t.Kind() != reflect.Struct && t.Kind() != reflect.Map && t.Kind() != reflect.Slice && t.Kind() != reflect.Array):
		if !custom && node.Kind != yaml.ScalarNode {
			return fail("want a single %s value, got %s", typeName(t), kindName(node))
		}
		if err := node.Decode(reflect.New(t).Interface()); err != nil {
			return fail("%q is not a valid %s", node.Value, typeName(t))
		}
		return nil
	case t.Kind() == reflect.Struct:
		if node.Kind != yaml.MappingNode {
			return fail("want a mapping (section), got %s", kindName(node))
		}
		fields := yamlFields(t, path)
		var errs []error
		for i := 0; i+1 < len(node.Content); i += 2 {
			k, v := node.Content[i], node.Content[i+1]
			p := joinPath(path, k.Value)
			f, ok := fields[k.Value]
			if !ok {
				msg := fmt.Sprintf("unknown field (known here: %s)", strings.Join(slices.Sorted(maps.Keys(fields)), ", "))
				if to, moved := movedKeys[p]; moved {
					msg = fmt.Sprintf("moved to %s (%s)", to.key, to.why)
				}
				fe := &field.Error{Field: p, File: src.file, Line: k.Line, Msg: msg}
				if k.Line == 0 {
					fe.File, fe.Line = src.lookup(p)
				}
				errs = append(errs, fe)
				continue
			}
			errs = append(errs, check(v, f.Type, p, src)...)
		}
		return errs
	case t.Kind() == reflect.Map:
		if node.Kind != yaml.MappingNode {
			return fail("want a mapping, got %s", kindName(node))
		}
		var errs []error
		for i := 0; i+1 < len(node.Content); i += 2 {
			errs = append(errs, check(node.Content[i+1], t.Elem(), joinPath(path, node.Content[i].Value), src)...)
		}
		return errs
	default: // slice, array
		if node.Kind != yaml.SequenceNode {
			return fail("want a list, got %s", kindName(node))
		}
		var errs []error
		for i, item := range node.Content {
			errs = append(errs, check(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), src)...)
		}
		return errs
	}
}

// movedKeys maps a key that moved (dotted path) to where it lives now, so
// that an old config or --set is told where the key went instead of only
// that it is unknown.
var movedKeys = map[string]struct{ key, why string }{
	"train.threads":      {"train.cpu.threads", backendOwns},
	"train.precision":    {"train.xla.precision", backendOwns},
	"train.pjrt_plugin":  {"train.xla.pjrt_plugin", backendOwns},
	"train.devices":      {"train.xla.devices", backendOwns},
	"extract.quickstart": {"quickstart", "the quickstart job's own section"},
}

const backendOwns = "the sub-section of the backend that reads it"

// renamedKeys maps a key that moved (dotted path) to where it lives now,
// for keys that still work where they were for one release: the loader
// moves the old key's value to the new place (errors still name the old
// key's file and line) and logs where it went. Setting both is an error.
var renamedKeys = map[string]string{
	"data.s3":      "store.s3",      // every user of a bucket reads the store section
	"data.retries": "store.retries", // (checkpoints, weights and features borrowed data's)
	// The shard formats' own settings moved into their sub-sections.
	"data.image_column":      "data.parquet.image_column",
	"data.label_column":      "data.parquet.label_column",
	"data.folder_shard_size": "data.folder.shard_size",
	// The Parquet sink's own settings moved into its sub-section.
	"extract.row_group_rows": "extract.parquet.row_group_rows",
	"extract.compression":    "extract.parquet.compression",
}

// renameKeys applies renamedKeys to the merged tree (file and --set).
func renameKeys(tree *yaml.Node, src *sourceMap) []error {
	var errs []error
	for _, old := range slices.Sorted(maps.Keys(renamedKeys)) {
		to := renamedKeys[old]
		oldParent, oldKey := splitLast(old)
		p := nodeAt(tree, oldParent, false)
		if p == nil {
			continue
		}
		j := keyIndex(p, oldKey)
		if j < 0 {
			continue
		}
		val := p.Content[j+1]
		p.Content = append(p.Content[:j:j], p.Content[j+2:]...)
		file, line := src.lookup(old)
		if src.given(to) {
			errs = append(errs, &field.Error{Field: old, File: file, Line: line,
				Msg: fmt.Sprintf("moved to %s, which is set too: keep only %s", to, to)})
			continue
		}
		toParent, toKey := splitLast(to)
		np := nodeAt(tree, toParent, true)
		if np.Kind != yaml.MappingNode {
			continue // the type check reports the new parent
		}
		if k := keyIndex(np, toKey); k >= 0 {
			np.Content[k+1] = merge(np.Content[k+1], val)
		} else {
			np.Content = append(np.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: toKey}, val)
		}
		src.alias(old, to)
		slog.Warn("config key moved; the old key still works for this release", "key", old, "now", to, "file", file, "line", line)
	}
	return errs
}

// splitLast splits "a.b.c" into "a.b" and "c".
func splitLast(path string) (string, string) {
	i := strings.LastIndexByte(path, '.')
	if i < 0 {
		return "", path
	}
	return path[:i], path[i+1:]
}

// nodeAt returns the mapping at a dotted path of mappings (the tree for
// ""), creating missing ones when create is set; nil when it is missing or
// a value on the way is not a mapping.
func nodeAt(tree *yaml.Node, path string, create bool) *yaml.Node {
	cur := tree
	if path == "" {
		return cur
	}
	for _, part := range strings.Split(path, ".") {
		if cur.Kind != yaml.MappingNode {
			return nil
		}
		j := keyIndex(cur, part)
		if j < 0 {
			if !create {
				return nil
			}
			cur.Content = append(cur.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: part}, &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"})
			j = len(cur.Content) - 2
		}
		cur = cur.Content[j+1]
	}
	return cur
}

// yamlFields maps the YAML keys of a struct at path to its fields, as
// yaml.v3 does (tag name, else the lower-cased field name; inline structs
// flattened), plus the sub-sections registered for path when the struct
// holds an inline settings.Set (train's cpu and xla).
func yamlFields(t reflect.Type, path string) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || len(f.Index) > 1 {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if f.Type == setType {
			for _, key := range settings.Keys(path) {
				typ, _ := settings.Type(path, key)
				out[key] = reflect.StructField{Name: key, Type: typ}
			}
			continue
		}
		if strings.Contains(opts, "inline") {
			maps.Copy(out, yamlFields(f.Type, path))
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f
	}
	return out
}

func typeName(t reflect.Type) string {
	switch {
	case t == durationType:
		return "duration (e.g. 1.5s, 2m)"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		return "integer"
	case t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uintptr:
		return "non-negative integer"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "number"
	case t.Kind() == reflect.Bool:
		return "boolean (true/false)"
	default:
		return t.String()
	}
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return fmt.Sprintf("%q", n.Value)
	}
}

// decodeSets decodes the registered sub-sections of every settings.Set in
// the struct v (at path; node is its YAML mapping) into their registered
// types: each key's node over a fresh copy of its defaults, strictly
// (unknown keys refused) when strict. yaml.v3 fills an inline map with
// generic values; this gives each its owner's type. A key not in node keeps
// its defaults; a key registered for no type is left to check, which
// reports it.
func decodeSets(v reflect.Value, node *yaml.Node, path string, strict bool) error {
	if node == nil || node.Kind != yaml.MappingNode || v.Kind() != reflect.Struct {
		return nil
	}
	var errs []error
	for _, f := range reflect.VisibleFields(v.Type()) {
		if !f.IsExported() || len(f.Index) > 1 {
			continue
		}
		fv := v.FieldByIndex(f.Index)
		if f.Type == setType {
			set := settings.Set{}
			for _, key := range settings.Keys(path) {
				ptr := settings.New(path, key)
				if j := keyIndex(node, key); j >= 0 {
					if err := decodeNode(node.Content[j+1], ptr, strict); err != nil {
						errs = append(errs, fmt.Errorf("%s: %w", joinPath(path, key), err))
					}
					// A registered section may hold sub-sections of its own
					// (extract's sinks).
					if err := decodeSets(reflect.ValueOf(ptr).Elem(), node.Content[j+1], joinPath(path, key), strict); err != nil {
						errs = append(errs, err)
					}
				}
				set[key] = ptr
			}
			fv.Set(reflect.ValueOf(set))
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || f.Type.Kind() != reflect.Struct {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		if j := keyIndex(node, name); j >= 0 {
			if err := decodeSets(fv, node.Content[j+1], joinPath(path, name), strict); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// decodeNode decodes node over *ptr, refusing unknown keys when strict
// (else it keeps what decodes).
func decodeNode(node *yaml.Node, ptr any, strict bool) error {
	if !strict {
		_ = node.Decode(ptr)
		return nil
	}
	text, err := yaml.Marshal(node)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(text))
	dec.KnownFields(true)
	return dec.Decode(ptr)
}
