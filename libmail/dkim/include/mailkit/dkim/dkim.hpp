// SPDX-License-Identifier: Apache-2.0
/// @file dkim.hpp
/// DomainKeys Identified Mail: sign outgoing mail and verify incoming signatures.
///
/// Signing picks header fields with over-signing, hashes the body while it streams by, and signs
/// with RSA-SHA256 (OpenSSL EVP) or Ed25519-SHA256 (libsodium). Verification evaluates every
/// DKIM-Signature of a message separately through a sans-I/O verifier that says which key
/// records it needs; DNS answers come from the caller or a dns::resolver. Results are values
/// (pass, fail, neutral, policy, temperror, permerror, none, each with a reason) and feed DMARC
/// and the Authentication-Results field.
///
/// **Standards**: RFC 6376 (DKIM: §3.2 tag lists, §3.4 canonicalization, §3.5 signature field,
/// §3.6 key records, §3.7 hashes, §5 signing, §6 verification), RFC 8301 (rsa-sha1 and keys
/// under 1024 bits), RFC 8463 (ed25519-sha256), RFC 8601 (Authentication-Results), RFC 6008
/// (header.b). DomainKeys (RFC 4870) is not implemented: such messages are "none".
///
/// **Security**: parses untrusted header fields, key records from DNS and bodies of any size;
/// every list and field is bounded (signatures per message, h= entries, field size, key size).
/// Private keys are loaded by the caller; this module touches no disk and no network itself
/// (DNS goes through the injected resolver).
#pragma once

#include <mailkit/dkim/auth_results.hpp>
#include <mailkit/dkim/canonicalization.hpp>
#include <mailkit/dkim/key_record.hpp>
#include <mailkit/dkim/keys.hpp>
#include <mailkit/dkim/message.hpp>
#include <mailkit/dkim/result.hpp>
#include <mailkit/dkim/signature.hpp>
#include <mailkit/dkim/signer.hpp>
#include <mailkit/dkim/tag_list.hpp>
#include <mailkit/dkim/verifier.hpp>
