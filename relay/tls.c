/*
 * TLS (tls.h): certificate checks, handshake counters and SIGHUP reload
 * around the TLS libwebsockets does with OpenSSL.
 *
 * Counting failed handshakes: OpenSSL reports a handshake's start and its
 * end, but a client that gives up (unknown CA, plain HTTP on the TLS port,
 * a scanner) just goes, with or without an alert. So each connection's SSL
 * carries, from its handshake's start to its end, a pointer to the relay's
 * failure counter in an ex_data slot whose free function bumps it: an SSL
 * freed while the pointer is still there failed its handshake.
 */
#include "tls.h"

#include <libwebsockets.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <string.h>

/* Frees an SSL: a handshake still pending there failed. */
static void pending_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                         void *argp) {
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    if (ptr) (*(uint64_t *)ptr)++;
}

int tls_check(const relay_config *cfg, char *err, size_t err_cap) {
    if (!cfg->tls_cert && !cfg->tls_key) return 0;
    if (!cfg->tls_cert || !cfg->tls_key) {
        snprintf(err, err_cap, "--tls-cert and --tls-key go together");
        return -1;
    }
    SSL_CTX *c = SSL_CTX_new(TLS_server_method());
    const char *what = NULL;
    if (!c)
        what = "cannot make a TLS context";
    else if (SSL_CTX_use_certificate_chain_file(c, cfg->tls_cert) != 1)
        what = cfg->tls_cert;
    else if (SSL_CTX_use_PrivateKey_file(c, cfg->tls_key, SSL_FILETYPE_PEM) != 1)
        what = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH
                   ? "the key does not match the certificate"
                   : cfg->tls_key;
    else if (SSL_CTX_check_private_key(c) != 1)
        what = "the key does not match the certificate";
    if (what) {
        char why[160] = "";
        ERR_error_string_n(ERR_peek_last_error(), why, sizeof why);
        snprintf(err, err_cap, "TLS: %s (%s)", what, why);
    }
    ERR_clear_error();
    SSL_CTX_free(c);
    return what ? -1 : 0;
}

void tls_context_options(relay *r, struct lws_context_creation_info *info) {
    if (!r->cfg.tls_cert) return;
    info->options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info->ssl_cert_filepath = r->cfg.tls_cert;
    info->ssl_private_key_filepath = r->cfg.tls_key;
    /* HTTP/1.1 only: http.c and the WebSocket upgrade speak it, and an h2
     * client would get lws' HTTP/2 framing of answers written for 1.1. */
    info->alpn = "http/1.1";
    info->ssl_info_event_mask = SSL_CB_HANDSHAKE_START | SSL_CB_HANDSHAKE_DONE;
    r->tls_pending_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, pending_free);
}

void tls_on_info(relay *r, struct lws *wsi, const void *in) {
    const struct lws_ssl_info *si = in;
    SSL *ssl = lws_get_ssl(wsi);
    if (!ssl || r->tls_pending_idx < 0) return;
    int idx = r->tls_pending_idx;
    if (si->where & SSL_CB_HANDSHAKE_START) {
        SSL_set_ex_data(ssl, idx, &r->m.tls_handshakes_failed);
    }
    if ((si->where & SSL_CB_HANDSHAKE_DONE) && SSL_get_ex_data(ssl, idx)) {
        r->m.tls_handshakes_ok++;
        SSL_set_ex_data(ssl, idx, NULL);
    }
}

int tls_reload(relay *r) {
    if (!r->cfg.tls_cert) return 0;
    char err[256];
    if (tls_check(&r->cfg, err, sizeof err)) {
        r->m.tls_reload_failures++;
        relay_log("SIGHUP: keeping the old certificate: %s", err);
        return -1;
    }
    if (lws_tls_cert_updated(r->ctx, r->cfg.tls_cert, r->cfg.tls_key, NULL, 0, NULL, 0)) {
        r->m.tls_reload_failures++;
        relay_log("SIGHUP: libwebsockets refused the new certificate");
        return -1;
    }
    r->m.tls_reloads++;
    relay_log("SIGHUP: certificate reloaded from %s", r->cfg.tls_cert);
    return 0;
}
