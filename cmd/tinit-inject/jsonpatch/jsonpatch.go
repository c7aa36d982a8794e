package jsonpatch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Op is one RFC 6902 operation.
type Op struct {
	Op    string // "add", "replace" or "remove"
	Path  string // a JSON Pointer
	Value any    // marshalled as JSON; unused by "remove"
}

// Add, Replace and Remove build operations.
func Add(path string, v any) Op     { return Op{Op: "add", Path: path, Value: v} }
func Replace(path string, v any) Op { return Op{Op: "replace", Path: path, Value: v} }
func Remove(path string) Op         { return Op{Op: "remove", Path: path} }

// MarshalJSON writes the operation with its value whenever the operation
// takes one, whatever the value is.
func (o Op) MarshalJSON() ([]byte, error) {
	if o.Op == "remove" {
		return json.Marshal(struct {
			Op   string `json:"op"`
			Path string `json:"path"`
		}{o.Op, o.Path})
	}
	return json.Marshal(struct {
		Op    string `json:"op"`
		Path  string `json:"path"`
		Value any    `json:"value"`
	}{o.Op, o.Path, o.Value})
}

// String is the operation as the tests and logs show it: "add /spec/volumes/-".
func (o Op) String() string { return o.Op + " " + o.Path }

// Pointer joins keys into a JSON Pointer, escaping each.
func Pointer(keys ...string) string {
	var b strings.Builder
	for _, k := range keys {
		b.WriteByte('/')
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(k))
	}
	return b.String()
}

// Marshal is the patch as the AdmissionResponse carries it.
func Marshal(ops []Op) ([]byte, error) {
	if ops == nil {
		ops = []Op{}
	}
	b, err := json.Marshal(ops)
	if err != nil {
		return nil, fmt.Errorf("marshal JSON patch of %d operations: %w", len(ops), err)
	}
	return b, nil
}

// Apply applies ops to the JSON document doc and returns the new
// document.
func Apply(doc []byte, ops []Op) ([]byte, error) {
	var root any
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	if err := d.Decode(&root); err != nil {
		return nil, fmt.Errorf("apply JSON patch: read the document: %w", err)
	}
	for i, o := range ops {
		var v any
		if o.Op != "remove" {
			raw, err := json.Marshal(o.Value)
			if err != nil {
				return nil, fmt.Errorf("apply JSON patch: operation %d (%s): marshal the value: %w", i, o, err)
			}
			d := json.NewDecoder(bytes.NewReader(raw))
			d.UseNumber()
			if err := d.Decode(&v); err != nil {
				return nil, fmt.Errorf("apply JSON patch: operation %d (%s): read the value: %w", i, o, err)
			}
		}
		var err error
		if root, err = apply(root, o, v); err != nil {
			return nil, fmt.Errorf("apply JSON patch: operation %d (%s): %w", i, o, err)
		}
	}
	out, err := json.Marshal(root)
	if err != nil {
		return nil, fmt.Errorf("apply JSON patch: write the document: %w", err)
	}
	return out, nil
}

func splitPointer(p string) ([]string, error) {
	if p == "" {
		return nil, nil
	}
	if p[0] != '/' {
		return nil, fmt.Errorf("path %q is not a JSON Pointer: it must start with /", p)
	}
	keys := strings.Split(p[1:], "/")
	for i, k := range keys {
		keys[i] = strings.NewReplacer("~1", "/", "~0", "~").Replace(k)
	}
	return keys, nil
}

// apply does one operation, returning the (possibly new) root.
func apply(root any, o Op, v any) (any, error) {
	keys, err := splitPointer(o.Path)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		switch o.Op {
		case "add", "replace":
			return v, nil
		}
		return nil, fmt.Errorf("cannot %s the whole document", o.Op)
	}
	// Walk to the parent, then set the last key in it. set returns the
	// parent as it is after the change (an array grows into a new slice),
	// and each level stores its child back.
	var walk func(cur any, keys []string) (any, error)
	walk = func(cur any, keys []string) (any, error) {
		if len(keys) == 1 {
			return set(cur, keys[0], o.Op, v)
		}
		child, err := get(cur, keys[0])
		if err != nil {
			return nil, err
		}
		child, err = walk(child, keys[1:])
		if err != nil {
			return nil, err
		}
		return set(cur, keys[0], "replace", child)
	}
	return walk(root, keys)
}

func get(cur any, key string) (any, error) {
	switch c := cur.(type) {
	case map[string]any:
		v, ok := c[key]
		if !ok {
			return nil, fmt.Errorf("no member %q", key)
		}
		return v, nil
	case []any:
		i, err := index(key, len(c), false)
		if err != nil {
			return nil, err
		}
		return c[i], nil
	}
	return nil, fmt.Errorf("%q: not inside an object or array", key)
}

func set(cur any, key, op string, v any) (any, error) {
	switch c := cur.(type) {
	case map[string]any:
		_, ok := c[key]
		switch {
		case op == "add":
			c[key] = v
		case !ok:
			return nil, fmt.Errorf("no member %q to %s", key, op)
		case op == "replace":
			c[key] = v
		default:
			delete(c, key)
		}
		return c, nil
	case []any:
		if op == "add" {
			i := len(c)
			if key != "-" {
				var err error
				if i, err = index(key, len(c), true); err != nil {
					return nil, err
				}
			}
			out := make([]any, 0, len(c)+1)
			out = append(append(append(out, c[:i]...), v), c[i:]...)
			return out, nil
		}
		i, err := index(key, len(c), false)
		if err != nil {
			return nil, err
		}
		if op == "replace" {
			c[i] = v
			return c, nil
		}
		return append(c[:i:i], c[i+1:]...), nil
	}
	return nil, fmt.Errorf("%q: not inside an object or array", key)
}

// index reads an array index; end allows len (an insert at the end).
func index(key string, n int, end bool) (int, error) {
	i, err := strconv.Atoi(key)
	if err != nil || i < 0 || (key != "0" && key[0] == '0') || i > n || (i == n && !end) {
		return 0, fmt.Errorf("array index %q out of range (length %d)", key, n)
	}
	return i, nil
}
