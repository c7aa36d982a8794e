package webhook

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	jsonpatchv5 "github.com/evanphx/json-patch/v5"
	admissionv1 "k8s.io/api/admission/v1"
	sigsjson "sigs.k8s.io/json"
)

// FuzzDecodeReview feeds the handler any body: it must never panic,
// never answer other than "allowed" (with the request's uid) or an HTTP
// error when there is no uid to answer with, and any patch it sends must
// be a JSON Patch.
func FuzzDecodeReview(f *testing.F) {
	withCommand := []byte(`{"metadata":{"name":"web"},"spec":{"containers":[{"name":"app","image":"r/app:1","command":["/app"]}]}}`)
	f.Add(review(f, admissionv1.Create, "pods", "", withCommand))
	f.Add(review(f, admissionv1.Create, "pods", "", []byte(appPod)))
	f.Add(review(f, admissionv1.Update, "pods", "", withCommand))
	f.Add(review(f, admissionv1.Create, "pods", "", []byte(`{"metadata":{"annotations":{"tinit.dev/health-port":"80","tinit.dev/probes":"true","tinit.dev/grace":"1m"}},"spec":{"initContainers":[{"name":"s","image":"i","restartPolicy":"Always"}],"containers":[{"name":"a","image":"i","args":["$(X)"]}]}}`)))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u"}}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	h := New(Config{Settings: settings, Images: &fakeReader{err: errors.New("no registry")}})
	f.Fuzz(func(t *testing.T, body []byte) {
		rev, err := DecodeReview(body)
		if err == nil && (rev.Request == nil || rev.Request.UID == "") {
			t.Fatalf("decoded without a request uid: %s", body)
		}
		req := httptest.NewRequest(http.MethodPost, "/mutate", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		uid := lenientUID(body)
		switch w.Code {
		case http.StatusOK:
		case http.StatusBadRequest:
			if uid != "" {
				t.Fatalf("HTTP 400 although the uid %q was there to answer with", uid)
			}
			return
		default:
			t.Fatalf("status %d", w.Code)
		}
		var out admissionv1.AdmissionReview
		if strict, err := sigsjson.UnmarshalStrict(w.Body.Bytes(), &out); err != nil || len(strict) > 0 {
			t.Fatalf("answer does not decode: %v %v", err, strict)
		}
		r := out.Response
		if r == nil || !r.Allowed || r.Result != nil {
			t.Fatalf("not simply allowed: %s", w.Body)
		}
		if err == nil && string(r.UID) != string(rev.Request.UID) || err != nil && string(r.UID) != uid {
			t.Fatalf("uid %q for a request with %q", r.UID, uid)
		}
		if r.Patch != nil {
			if r.PatchType == nil || *r.PatchType != admissionv1.PatchTypeJSONPatch {
				t.Fatal("a patch without patchType JSONPatch")
			}
			if _, err := jsonpatchv5.DecodePatch(r.Patch); err != nil {
				t.Fatalf("patch is no JSON Patch: %v", err)
			}
		}
	})
}
