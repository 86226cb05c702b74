package main

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"strings"

	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/web"
)

// oidcFlags are serve's single sign-on settings (docs/INTEGRATION.md, "Single
// sign-on"), from flags or the environment.
type oidcFlags struct {
	issuer, clientID, clientSecret, secretFile, redirectURL, name string
	roleClaim, roleMap, teamClaim, nameClaims, scopes, postLogout string
	localLogin                                                    string
}

// bindOIDCFlags registers serve's single sign-on flags.
func bindOIDCFlags(fs *flag.FlagSet, f *oidcFlags) {
	fs.StringVar(&f.issuer, "oidc-issuer", env("CTXMAP_OIDC_ISSUER", ""), "OpenID Connect issuer URL; set it to offer single sign-on (CTXMAP_OIDC_ISSUER)")
	fs.StringVar(&f.clientID, "oidc-client-id", env("CTXMAP_OIDC_CLIENT_ID", ""), "this deployment's client id at the provider (CTXMAP_OIDC_CLIENT_ID)")
	f.clientSecret = env("CTXMAP_OIDC_CLIENT_SECRET", "")
	fs.Var(hidden{&f.clientSecret}, "oidc-client-secret", "the client's secret (CTXMAP_OIDC_CLIENT_SECRET); prefer --oidc-client-secret-file")
	fs.StringVar(&f.secretFile, "oidc-client-secret-file", env("CTXMAP_OIDC_CLIENT_SECRET_FILE", ""), "file holding the client's secret, readable by its owner only (CTXMAP_OIDC_CLIENT_SECRET_FILE)")
	fs.StringVar(&f.redirectURL, "oidc-redirect-url", env("CTXMAP_OIDC_REDIRECT_URL", ""),
		"the callback registered with the provider: https://HOST/api/v1/auth/oidc/callback (CTXMAP_OIDC_REDIRECT_URL)")
	fs.StringVar(&f.name, "oidc-name", env("CTXMAP_OIDC_NAME", "your organisation"), `the provider as the sign-in page names it: "Sign in with NAME" (CTXMAP_OIDC_NAME)`)
	fs.StringVar(&f.roleClaim, "oidc-role-claim", env("CTXMAP_OIDC_ROLE_CLAIM", "groups"), "ID token claim whose values (group ids, app roles) give the role (CTXMAP_OIDC_ROLE_CLAIM)")
	fs.StringVar(&f.roleMap, "oidc-role-map", env("CTXMAP_OIDC_ROLE_MAP", ""),
		`"value=role,..." from the role claim's values to roles, first match wins; empty: the values are role codes (CTXMAP_OIDC_ROLE_MAP)`)
	fs.StringVar(&f.teamClaim, "oidc-team-claim", env("CTXMAP_OIDC_TEAM_CLAIM", ""), "ID token claim holding the team's name (CTXMAP_OIDC_TEAM_CLAIM)")
	fs.StringVar(&f.nameClaims, "oidc-name-claim", env("CTXMAP_OIDC_NAME_CLAIM", strings.Join(contexts.DefaultNameClaims, ",")),
		"ID token claims tried in order for the account's name; the subject if none (CTXMAP_OIDC_NAME_CLAIM)")
	fs.StringVar(&f.scopes, "oidc-scopes", env("CTXMAP_OIDC_SCOPES", "profile,email"), "scopes asked for besides openid (CTXMAP_OIDC_SCOPES)")
	fs.StringVar(&f.postLogout, "oidc-post-logout-url", env("CTXMAP_OIDC_POST_LOGOUT_URL", ""),
		"where the provider sends the browser after its sign-out; default the site's root (CTXMAP_OIDC_POST_LOGOUT_URL)")
	fs.StringVar(&f.localLogin, "local-login", env("CTXMAP_LOCAL_LOGIN", "on"),
		"on, or off: the password sign-in is refused (403) and browsers sign in through OIDC only; API tokens keep working (CTXMAP_LOCAL_LOGIN)")
}

// list splits a comma-separated flag value.
func list(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// config checks the flags and makes the web layer's settings. Mistakes are
// refused at start, never at the first sign-in: a typo in the role map must
// not leave a council unable to sign in on Monday morning.
func (f *oidcFlags) config() (web.OIDCConfig, bool, error) {
	var passwordOff bool
	switch f.localLogin {
	case "on", "":
	case "off":
		passwordOff = true
	default:
		return web.OIDCConfig{}, false, fmt.Errorf("--local-login must be on or off, not %q", f.localLogin)
	}
	if f.issuer == "" {
		if passwordOff {
			return web.OIDCConfig{}, false, errors.New("--local-login off needs single sign-on (--oidc-issuer), or nobody could sign in with a browser")
		}
		if f.clientID != "" || f.redirectURL != "" || f.roleMap != "" || f.teamClaim != "" {
			return web.OIDCConfig{}, false, errors.New("OIDC settings are given but --oidc-issuer (CTXMAP_OIDC_ISSUER) is not")
		}
		return web.OIDCConfig{}, false, nil
	}
	if err := absoluteURL("--oidc-issuer", f.issuer); err != nil {
		return web.OIDCConfig{}, false, err
	}
	if err := absoluteURL("--oidc-redirect-url", f.redirectURL); err != nil {
		return web.OIDCConfig{}, false, err
	}
	if f.postLogout != "" {
		if err := absoluteURL("--oidc-post-logout-url", f.postLogout); err != nil {
			return web.OIDCConfig{}, false, err
		}
	}
	if f.clientID == "" {
		return web.OIDCConfig{}, false, errors.New("--oidc-client-id (CTXMAP_OIDC_CLIENT_ID) is required with --oidc-issuer")
	}
	if f.roleClaim == "" || f.teamClaim == "" {
		return web.OIDCConfig{}, false, errors.New("--oidc-role-claim and --oidc-team-claim are required with --oidc-issuer: ctxmap takes every account's role and team from the provider")
	}
	secret := f.clientSecret
	if f.secretFile != "" {
		if secret != "" {
			return web.OIDCConfig{}, false, errors.New("give the OIDC client secret once: --oidc-client-secret or --oidc-client-secret-file, not both")
		}
		s, err := readSecretFile(f.secretFile)
		if err != nil {
			return web.OIDCConfig{}, false, fmt.Errorf("--oidc-client-secret-file: %w", err)
		}
		secret = s
	}
	roles, err := contexts.ParseRoleMap(f.roleMap)
	if err != nil {
		return web.OIDCConfig{}, false, err
	}
	return web.OIDCConfig{
		Issuer: f.issuer, ClientID: f.clientID, ClientSecret: secret, RedirectURL: f.redirectURL, Name: f.name,
		Scopes: list(f.scopes), PostLogoutURL: f.postLogout,
		Mapping: contexts.SSOMapping{RoleClaim: f.roleClaim, RoleMap: roles, TeamClaim: f.teamClaim, NameClaims: list(f.nameClaims)},
	}, passwordOff, nil
}

// absoluteURL refuses a value that is not an http(s) URL with a host.
func absoluteURL(flagName, v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%s: %q is not an http(s) URL", flagName, v)
	}
	return nil
}
