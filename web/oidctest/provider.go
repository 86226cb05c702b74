// Package oidctest is a real OpenID Connect provider for ctxmap's tests: the
// example provider of github.com/zitadel/oidc/v3 (its op package, its login
// page, its in-memory storage) with users of our choosing whose ID tokens
// carry group and team claims. It speaks the whole protocol (discovery,
// authorization code with PKCE, signed ID tokens with the nonce, the token
// endpoint with client authentication, end_session), so a test that signs in
// through it tests ctxmap's relying party against a provider written by
// others, not against our own reading of the specification.
package oidctest

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// User is one person who can sign in at the provider.
type User struct {
	ID, Username, Password, Email string
	// Groups go into the ID token's groups claim (none: no claim).
	Groups []string
	// Team goes into the team claim (empty: no claim).
	Team string
}

// Config is the provider's one client and its users.
type Config struct {
	ClientID, ClientSecret string
	// RedirectGlobs and PostLogoutGlobs are the client's allowed redirect
	// URIs, as doublestar / path.Match patterns, so a test need not know
	// its server's port before the provider starts
	// (http://127.0.0.1:*/api/v1/auth/oidc/callback).
	RedirectGlobs, PostLogoutGlobs []string
	Users                          []User
	// GroupsClaim and TeamClaim name the claims; default groups and team.
	GroupsClaim, TeamClaim string
	Logger                 *slog.Logger
}

// New returns the provider's handler for issuer (the URL it is served at,
// ending in /), with zitadel's login page at /login/username and the
// discovery document at /.well-known/openid-configuration.
func New(issuer string, cfg Config) (http.Handler, error) {
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, fmt.Errorf("oidctest: a client id and secret are required")
	}
	if cfg.GroupsClaim == "" {
		cfg.GroupsClaim = "groups"
	}
	if cfg.TeamClaim == "" {
		cfg.TeamClaim = "team"
	}
	users := userStore{byID: map[string]*storage.User{}, extra: map[string]User{}}
	for _, u := range cfg.Users {
		users.byID[u.ID] = &storage.User{ID: u.ID, Username: u.Username, Password: u.Password, FirstName: u.Username,
			LastName: "Test", Email: u.Email, EmailVerified: true, PreferredLanguage: language.English}
		users.extra[u.ID] = u
	}
	// A placeholder exact redirect URI: the globs do the matching.
	client := storage.WebClient(cfg.ClientID, cfg.ClientSecret, "http://127.0.0.1/unused")
	st := &withClaims{
		Storage: storage.NewStorageWithClients(users, map[string]*storage.Client{cfg.ClientID: client}),
		users:   users, cfg: cfg,
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return exampleop.SetupServer(issuer, st, logger, false), nil
}

// userStore is storage.UserStore over our users.
type userStore struct {
	byID  map[string]*storage.User
	extra map[string]User
}

func (u userStore) GetUserByID(id string) *storage.User { return u.byID[id] }

func (u userStore) GetUserByUsername(name string) *storage.User {
	for _, x := range u.byID {
		if x.Username == name {
			return x
		}
	}
	return nil
}

func (u userStore) ExampleClientID() string { return storage.ServiceUserID }

// withClaims is the example storage with our client settings and our
// users' group and team claims in their ID tokens.
type withClaims struct {
	*storage.Storage
	users userStore
	cfg   Config
}

// GetClientByClientID wraps the example client with the redirect globs and
// asks for the profile and e-mail claims in the ID token itself, as Entra ID
// sends them.
func (s *withClaims) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil {
		return nil, err
	}
	return globClient{Client: c, redirects: s.cfg.RedirectGlobs, logouts: s.cfg.PostLogoutGlobs}, nil
}

// SetUserinfoFromRequest adds the groups and team claims to the ID token.
func (s *withClaims) SetUserinfoFromRequest(ctx context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, info, req, scopes); err != nil {
		return err
	}
	u, ok := s.users.extra[req.GetSubject()]
	if !ok {
		return nil
	}
	if len(u.Groups) > 0 {
		info.AppendClaims(s.cfg.GroupsClaim, u.Groups)
	}
	if u.Team != "" {
		info.AppendClaims(s.cfg.TeamClaim, u.Team)
	}
	return nil
}

// globClient is an op.Client with redirect globs (op.HasRedirectGlobs).
type globClient struct {
	op.Client
	redirects, logouts []string
}

func (c globClient) RedirectURIGlobs() []string { return c.redirects }

func (c globClient) PostLogoutRedirectURIGlobs() []string { return c.logouts }

func (c globClient) IDTokenUserinfoClaimsAssertion() bool { return true }
