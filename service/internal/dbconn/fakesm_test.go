package dbconn

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeSecretsManager is a local Secrets Manager endpoint speaking the real
// GetSecretValue protocol (awsJson1.1: POST /, X-Amz-Target, JSON bodies,
// errors as {"__type": ...}), for the real SDK client to talk to.
type fakeSecretsManager struct {
	t      testing.TB
	srv    *httptest.Server
	region string // the region requests must be signed for
	delay  time.Duration
	calls  atomic.Int64

	mu      sync.Mutex
	secrets map[string]fakeSecret
}

type fakeSecret struct {
	str     *string
	binary  []byte
	version int
}

const fakeAccessKey = "AKIDDBCONNTEST"

// newFakeSecretsManager starts the fake on 127.0.0.1 and points the AWS SDK
// at it through the environment, with fake credentials, no shared config
// files and no IMDS. AWS_REGION is set to a region other than the secret's
// to show that the ARN's region is used.
func newFakeSecretsManager(t testing.TB, region string) *fakeSecretsManager {
	f := &fakeSecretsManager{t: t, region: region, secrets: map[string]fakeSecret{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": f.srv.URL,
		"AWS_ACCESS_KEY_ID":                fakeAccessKey,
		"AWS_SECRET_ACCESS_KEY":            "fake-secret-key",
		"AWS_SESSION_TOKEN":                "",
		"AWS_REGION":                       "ap-southeast-2",
		"AWS_PROFILE":                      "",
		"AWS_CONFIG_FILE":                  filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE":      filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED":        "true",
	} {
		t.Setenv(k, v)
	}
	return f
}

// put sets the secret's AWSCURRENT value, as RDS's rotation does.
func (f *fakeSecretsManager) put(arn, value string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.secrets[arn]
	s.str, s.binary = &value, nil
	s.version++
	f.secrets[arn] = s
}

func (f *fakeSecretsManager) putBinary(arn string, b []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.secrets[arn]
	s.str, s.binary = nil, b
	s.version++
	f.secrets[arn] = s
}

// putCredentials stores the RDS-managed form, with an extra key as RDS
// rotation templates add.
func (f *fakeSecretsManager) putCredentials(arn, user, password string) {
	b, err := json.Marshal(map[string]any{"username": user, "password": password, "engine": "mysql", "port": 3306})
	if err != nil {
		f.t.Fatal(err)
	}
	f.put(arn, string(b))
}

func (f *fakeSecretsManager) serve(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, typ, msg string) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("X-Amzn-Errortype", typ)
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
	}
	// Checks of what the SDK sends; a failure here is a test failure.
	wantScope := fmt.Sprintf("Credential=%s/", fakeAccessKey)
	wantRegion := fmt.Sprintf("/%s/secretsmanager/aws4_request", f.region)
	auth := r.Header.Get("Authorization")
	switch {
	case r.Method != http.MethodPost || r.URL.Path != "/":
		f.t.Errorf("fake Secrets Manager: %s %s, want POST /", r.Method, r.URL.Path)
		fail(http.StatusBadRequest, "InvalidRequestException", "bad method or path")
		return
	case r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue":
		f.t.Errorf("fake Secrets Manager: X-Amz-Target %q", r.Header.Get("X-Amz-Target"))
		fail(http.StatusBadRequest, "UnknownOperationException", "unknown operation")
		return
	case r.Header.Get("Content-Type") != "application/x-amz-json-1.1":
		f.t.Errorf("fake Secrets Manager: Content-Type %q", r.Header.Get("Content-Type"))
		fail(http.StatusBadRequest, "SerializationException", "bad content type")
		return
	case !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 ") || !strings.Contains(auth, wantScope) || !strings.Contains(auth, wantRegion):
		f.t.Errorf("fake Secrets Manager: Authorization %q, want SigV4 by %s for %s", auth, fakeAccessKey, f.region)
		fail(http.StatusForbidden, "UnrecognizedClientException", "bad signature")
		return
	}
	var in struct {
		SecretID     string `json:"SecretId"`
		VersionID    string `json:"VersionId"`
		VersionStage string `json:"VersionStage"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.SecretID == "" {
		f.t.Errorf("fake Secrets Manager: body: %v, SecretId %q", err, in.SecretID)
		fail(http.StatusBadRequest, "InvalidParameterException", "bad body")
		return
	}
	if in.VersionID != "" || (in.VersionStage != "" && in.VersionStage != "AWSCURRENT") {
		f.t.Errorf("fake Secrets Manager: asked for version %q stage %q, want AWSCURRENT", in.VersionID, in.VersionStage)
	}
	f.calls.Add(1)
	time.Sleep(f.delay)

	f.mu.Lock()
	s, ok := f.secrets[in.SecretID]
	f.mu.Unlock()
	if !ok {
		fail(http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
		return
	}
	out := map[string]any{
		"ARN":           in.SecretID,
		"Name":          in.SecretID[strings.LastIndex(in.SecretID, ":")+1:],
		"VersionId":     fmt.Sprintf("00000000-0000-0000-0000-%012d", s.version),
		"VersionStages": []string{"AWSCURRENT"},
		"CreatedDate":   float64(time.Now().Unix()),
	}
	if s.str != nil {
		out["SecretString"] = *s.str
	} else {
		out["SecretBinary"] = s.binary // []byte marshals as base64, as the protocol wants
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	json.NewEncoder(w).Encode(out)
}
