# scripts/kura-setup.sh - shell helpers for scripts that set up a vault with
# real accounts (scripts/demo, bench/run).  Source it; it defines functions
# only.  Secrets go to files of mode 0600 in $KURA_AUTH_DIR, never to the
# command line.
#
#   kura_setup_admin         init the vault (its recovery key goes to
#                            $KURA_AUTH_DIR/recovery.key), change the first
#                            admin's password, enrol TOTP, log in (session file)
#   kura_setup_user ID ROLE DEPT   add an account and make its first
#                            password change; prints its credentials file

kura_rand_pw() { # letters, digits and symbols, 20 characters
	printf 'K%s#7' "$(head -c 12 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
}

kura_creds() { # kura_creds FILE USER PASSWORD-FILE
	umask 077
	printf '[kura]\nuser = %s\npassword = %s\n' "$2" "$(cat "$3")" >"$1"
}

kura_setup_admin() {
	umask 077
	mkdir -p "$KURA_AUTH_DIR"
	kura_rand_pw >"$KURA_AUTH_DIR/admin.initial"
	rm -f "$KURA_AUTH_DIR/recovery.key" # init refuses to overwrite one
	"$KURA" init ${KURA_INIT_ARGS:-} --admin admin \
		--admin-password-file "$KURA_AUTH_DIR/admin.initial" \
		--recovery-key-file "$KURA_AUTH_DIR/recovery.key" >/dev/null
	kura_creds "$KURA_AUTH_DIR/admin.cred" admin "$KURA_AUTH_DIR/admin.initial"
	kura_rand_pw >"$KURA_AUTH_DIR/admin.pw"
	"$KURA" --credentials "$KURA_AUTH_DIR/admin.cred" passwd \
		--new-password-file "$KURA_AUTH_DIR/admin.pw" >/dev/null
	kura_creds "$KURA_AUTH_DIR/admin.cred" admin "$KURA_AUTH_DIR/admin.pw"
	# A security administrator needs a second factor (AU-12).
	"$KURA" --json --credentials "$KURA_AUTH_DIR/admin.cred" factor enroll totp |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["secret_base32"])' \
			>"$KURA_AUTH_DIR/admin.totp"
	kura_admin_login
}

kura_admin_login() { # a session for the admin commands that follow
	KURA_SESSION_FILE="$KURA_AUTH_DIR/admin.session" "$KURA" \
		--credentials "$KURA_AUTH_DIR/admin.cred" \
		--otp "$(oathtool --totp -b "$(cat "$KURA_AUTH_DIR/admin.totp")")" login >/dev/null
}

kura_admin() { # run a command as the logged-in admin
	KURA_SESSION_FILE="$KURA_AUTH_DIR/admin.session" "$KURA" "$@"
}

kura_setup_user() { # ID ROLE DEPARTMENT -> prints the credentials file
	umask 077
	kura_rand_pw >"$KURA_AUTH_DIR/$1.initial"
	kura_admin user add "$1" --role "$2" --department "$3" \
		--password-file "$KURA_AUTH_DIR/$1.initial" >/dev/null
	kura_creds "$KURA_AUTH_DIR/$1.cred" "$1" "$KURA_AUTH_DIR/$1.initial"
	kura_rand_pw >"$KURA_AUTH_DIR/$1.pw"
	"$KURA" --credentials "$KURA_AUTH_DIR/$1.cred" passwd \
		--new-password-file "$KURA_AUTH_DIR/$1.pw" >/dev/null
	kura_creds "$KURA_AUTH_DIR/$1.cred" "$1" "$KURA_AUTH_DIR/$1.pw"
	rm -f "$KURA_AUTH_DIR/$1.initial"
	echo "$KURA_AUTH_DIR/$1.cred"
}
