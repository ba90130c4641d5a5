/*
 * ui_account.c - the account's own security from the web UI (serve.h
 * kura_api_password, kura_api_factors; docs/formats/ui-api.md §1; AU-07..12):
 * POST /api/password, POST /api/factors/totp, POST /api/factors/totp/confirm.
 * The decisions and their audit events are the auth library's
 * (access.h kura_self_*), the same as `kura passwd`'s; this file reads the
 * request and shapes the answer.  Sessions that must change their password
 * or enrol a factor reach these (session.c limited).
 */
#include <string.h>

#include "auth/password.h"
#include "auth/qr.h"
#include "auth/totp.h"
#include "crypto/crypto.h"
#include "serve/api_int.h"
#include "util/err.h"
#include "util/banned.h"

/* The policy rule a password broke, as the answer names it. */
static const char *rule_name(int reason)
{
	static const char *const names[] = {"ok", "too-short", "too-long", "classes",
					    "dictionary", "personal", "reused", "invalid"};
	return reason >= 0 && (size_t)reason < sizeof(names) / sizeof(names[0]) ? names[reason]
										  : "invalid";
}

/* Wipe jansson's copy of a secret member, then free the body. */
static void wipe_body(json_t *j, const char *const *secrets)
{
	for (size_t i = 0; secrets && secrets[i]; i++) {
		json_t *s = json_object_get(j, secrets[i]);
		if (json_is_string(s))
			kura_wipe((char *)json_string_value(s), json_string_length(s));
	}
	json_decref(j);
}

static int password_refused(struct kura_http_resp *resp, int r, int reason)
{
	if (r == KURA_EAUTH)
		return api_reply_json(resp, 401, json_pack("{s:s, s:s}", "error",
				      "the current password is wrong (recorded; repeated failures lock the account)",
				      "error_ja",
				      "現在のパスワードが違います（記録しました。繰り返すとアカウントがロックされます）"));
	if (r == KURA_EPOLICY)
		return api_reply_json(resp, 400, json_pack("{s:s, s:s, s:[s]}", "error",
				      kura_pw_reason_text((enum kura_pw_reason)reason, 0), "error_ja",
				      kura_pw_reason_text((enum kura_pw_reason)reason, 1), "policy",
				      rule_name(reason)));
	return r;
}

/* POST /api/password {"old", "new"} (AU-07..11). */
static int change_password(const struct kura_http_req *req, struct kura_http_auth *au,
			   struct kura_http_resp *resp)
{
	static const char *const secrets[] = {"old", "new", NULL};
	const char *old, *pw, *msg;
	size_t old_len = 0, len = 0;
	json_t *j;
	json_error_t err;
	int reason = 0, status = api_body(req, &j, &msg);
	if (status)
		return api_reply_error(resp, 0, NULL, status, msg);
	if (json_unpack_ex(j, &err, JSON_STRICT, "{s:s%, s:s%}", "old", &old, &old_len, "new", &pw,
			   &len) ||
	    strlen(old) != old_len || strlen(pw) != len || old_len > KURA_MAX_PASSWORD ||
	    len > KURA_MAX_PASSWORD) {
		wipe_body(j, secrets);
		return api_reply_error(resp, 0, NULL, 400,
				       "body must be JSON {\"old\": \"...\", \"new\": \"...\"}");
	}
	int r = kura_self_password(&au->a, old, old_len, pw, len, 1, &reason);
	wipe_body(j, secrets);
	/* The account's other sessions ended (and maybe this one's flags
	 * changed): every loop reads its cached sessions again. */
	kura_serve_sessions_changed();
	if (r)
		return password_refused(resp, r, reason);
	return api_reply_json(resp, 200, json_pack("{s:b}", "changed", 1));
}

/* The key, its URI and the URI's QR code as SVG, for the answer. */
static json_t *totp_show(const char *user, const uint8_t *secret)
{
	struct kura_buf uri, b32, svg;
	json_t *j = NULL;
	kura_buf_init(&uri, 4096);
	kura_buf_init(&b32, 256);
	kura_buf_init(&svg, 1 << 20);
	int r = kura_totp_uri("kura", user, secret, KURA_TOTP_SECRET_LEN, &uri);
	if (!r)
		r = kura_base32_encode(secret, KURA_TOTP_SECRET_LEN, &b32);
	if (!r)
		r = kura_buf_append(&uri, "", 1) || kura_buf_append(&b32, "", 1) ? KURA_ENOMEM : 0;
	if (!r)
		r = kura_qr_svg((char *)uri.data, &svg);
	if (!r)
		r = kura_buf_append(&svg, "", 1);
	if (!r)
		j = json_pack("{s:s, s:s, s:s}", "secret_base32", (char *)b32.data, "otpauth_uri",
			      (char *)uri.data, "qr_svg", (char *)svg.data);
	kura_buf_release_secret(&uri);
	kura_buf_release_secret(&b32);
	kura_buf_release_secret(&svg);
	return j;
}

/* POST /api/factors/totp {} (AU-12): a pending secret. */
static int totp_begin(const struct kura_http_req *req, struct kura_http_auth *au,
		      struct kura_http_resp *resp)
{
	uint8_t secret[KURA_TOTP_SECRET_LEN];
	const char *msg;
	json_t *j;
	int status = api_body(req, &j, &msg);
	if (!status && json_object_size(j) != 0)
		status = 400, msg = "body must be JSON {}";
	json_decref(j);
	if (status)
		return api_reply_error(resp, 0, NULL, status, msg);
	int r = kura_self_totp_begin(&au->a, secret);
	j = r ? NULL : totp_show(au->id.actor.user, secret);
	kura_wipe(secret, sizeof(secret));
	if (r == KURA_EEXIST)
		return api_reply_json(resp, 409, json_pack("{s:s, s:s}", "error",
				      "an authenticator app is enrolled already: ask the security administrator to remove it first",
				      "error_ja", "認証アプリは登録済みです。変更するにはセキュリティ管理者に削除を依頼してください"));
	if (r)
		return r == KURA_EINVAL ? api_reply_error(resp, 0, NULL, 400,
				"this session cannot enrol a factor: log in with a password first") : r;
	return api_reply_json(resp, 200, j);
}

/* POST /api/factors/totp/confirm {"code"}: the pending secret enrolled. */
static int totp_confirm(const struct kura_http_req *req, struct kura_http_auth *au,
			struct kura_http_resp *resp)
{
	const char *code, *msg;
	json_t *j;
	json_error_t err;
	int status = api_body(req, &j, &msg);
	if (!status && json_unpack_ex(j, &err, JSON_STRICT, "{s:s}", "code", &code))
		status = 400, msg = "body must be JSON {\"code\": \"123456\"}";
	if (status) {
		json_decref(j);
		return api_reply_error(resp, 0, NULL, status, msg);
	}
	int r = kura_self_totp_confirm(&au->a, code);
	json_decref(j);
	if (r == KURA_EAUTH)
		return api_reply_json(resp, 400, json_pack("{s:s, s:s}", "error",
				      "wrong code: enter the 6 digits the authenticator app shows now",
				      "error_ja", "コードが違います。認証アプリに表示されている6桁を入力してください"));
	if (r == KURA_ENOTFOUND)
		return api_reply_json(resp, 409, json_pack("{s:s, s:s}", "error",
				      "no pending secret: POST /api/factors/totp first", "error_ja",
				      "登録中の鍵がありません。最初からやり直してください"));
	if (r)
		return r;
	kura_serve_sessions_changed(); /* this session no longer must enrol */
	return api_reply_json(resp, 200, json_pack("{s:b}", "enrolled", 1));
}

int kura_api_password(const struct kura_http_req *req, struct kura_http_resp *resp)
{
	struct kura_http_auth au;
	int r = api_only(req, resp, KURA_HTTP_POST, "POST");
	if (r)
		return r < 0 ? r : 0;
	if (req->query && *req->query)
		return api_reply_error(resp, 0, NULL, 400, "no query parameters are taken here");
	if ((r = kura_serve_authenticate(req, 0, &au, resp)))
		return api_answered(r);
	return change_password(req, &au, resp);
}

int kura_api_factors(const struct kura_http_req *req, struct kura_http_resp *resp)
{
	struct kura_http_auth au;
	const char *p = req->path ? req->path : "";
	int begin = strcmp(p, "/api/factors/totp") == 0;
	int confirm = strcmp(p, "/api/factors/totp/confirm") == 0;
	if (!begin && !confirm)
		return api_reply_error(resp, 0, NULL, 404, "no such factor resource");
	int r = api_only(req, resp, KURA_HTTP_POST, "POST");
	if (r)
		return r < 0 ? r : 0;
	if (req->query && *req->query)
		return api_reply_error(resp, 0, NULL, 400, "no query parameters are taken here");
	if ((r = kura_serve_authenticate(req, 0, &au, resp)))
		return api_answered(r);
	return begin ? totp_begin(req, &au, resp) : totp_confirm(req, &au, resp);
}
