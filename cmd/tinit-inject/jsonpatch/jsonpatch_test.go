package jsonpatch

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	jsonpatchv5 "github.com/evanphx/json-patch/v5"
)

func TestApply(t *testing.T) {
	doc := `{"metadata":{"annotations":{"a/b":"1"}},"spec":{"list":[1,2],"n":5,"flag":true}}`
	for _, tc := range []struct {
		name string
		ops  []Op
		want string // "" when the patch must not apply
	}{
		{"add to an object sets a member", []Op{Add("/spec/x", "y")}, `{"metadata":{"annotations":{"a/b":"1"}},"spec":{"list":[1,2],"n":5,"flag":true,"x":"y"}}`},
		{"add with an escaped key", []Op{Add(Pointer("metadata", "annotations", "tinit.dev/x~y"), "v")}, `{"metadata":{"annotations":{"a/b":"1","tinit.dev/x~y":"v"}},"spec":{"list":[1,2],"n":5,"flag":true}}`},
		{"add at an index inserts before it", []Op{Add("/spec/list/0", 0)}, `{"metadata":{"annotations":{"a/b":"1"}},"spec":{"list":[0,1,2],"n":5,"flag":true}}`},
		{"add at - appends", []Op{Add("/spec/list/-", 3)}, `{"metadata":{"annotations":{"a/b":"1"}},"spec":{"list":[1,2,3],"n":5,"flag":true}}`},
		{"add at the length appends", []Op{Add("/spec/list/2", 3)}, `{"metadata":{"annotations":{"a/b":"1"}},"spec":{"list":[1,2,3],"n":5,"flag":true}}`},
		{"replace keeps a false value", []Op{Replace("/spec/flag", false), Replace("/spec/n", 0)}, `{"metadata":{"annotations":{"a/b":"1"}},"spec":{"list":[1,2],"n":0,"flag":false}}`},
		{"remove from an array", []Op{Remove("/spec/list/0")}, `{"metadata":{"annotations":{"a/b":"1"}},"spec":{"list":[2],"n":5,"flag":true}}`},
		{"remove a member", []Op{Remove(Pointer("metadata", "annotations", "a/b"))}, `{"metadata":{"annotations":{}},"spec":{"list":[1,2],"n":5,"flag":true}}`},
		{"operations apply in order", []Op{Add("/spec/list/0", 0), Replace("/spec/list/1", 9)}, `{"metadata":{"annotations":{"a/b":"1"}},"spec":{"list":[0,9,2],"n":5,"flag":true}}`},
		{"add under a missing parent fails", []Op{Add("/status/x", 1)}, ""},
		{"replace of a missing member fails", []Op{Replace("/spec/missing", 1)}, ""},
		{"an index past the end fails", []Op{Add("/spec/list/3", 1)}, ""},
		{"a leading zero is no index", []Op{Replace("/spec/list/01", 1)}, ""},
		{"a path without / fails", []Op{Add("spec", 1)}, ""},
		{"into a scalar fails", []Op{Add("/spec/n/x", 1)}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Apply([]byte(doc), tc.ops)
			raw, _ := Marshal(tc.ops)
			p, perr := jsonpatchv5.DecodePatch(raw)
			var ref []byte
			var refErr error = perr
			if perr == nil {
				ref, refErr = p.Apply([]byte(doc))
			}
			if tc.want == "" {
				if err == nil {
					t.Fatalf("applied: %s", got)
				}
				// evanphx/json-patch reads "01" as 1; RFC 6901 does not.
				if refErr == nil && !strings.Contains(tc.name, "leading zero") {
					t.Errorf("evanphx/json-patch applies it: %s", ref)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !same(t, got, []byte(tc.want)) {
				t.Errorf("got %s\nwant %s", got, tc.want)
			}
			if refErr != nil || !same(t, ref, got) {
				t.Errorf("evanphx/json-patch: %s %v", ref, refErr)
			}
		})
	}
}

func same(t *testing.T, a, b []byte) bool {
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(x, y)
}

func TestMarshal(t *testing.T) {
	b, err := Marshal([]Op{Add("/a", false), Remove("/b"), Add("/c", nil)})
	if err != nil {
		t.Fatal(err)
	}
	if want := `[{"op":"add","path":"/a","value":false},{"op":"remove","path":"/b"},{"op":"add","path":"/c","value":null}]`; string(b) != want {
		t.Errorf("%s", b)
	}
	if b, _ := Marshal(nil); string(b) != "[]" {
		t.Errorf("no operations: %s", b)
	}
	if p := Pointer("metadata", "annotations", "a~b/c"); !strings.HasSuffix(p, "/a~0b~1c") {
		t.Errorf("pointer %s", p)
	}
}
