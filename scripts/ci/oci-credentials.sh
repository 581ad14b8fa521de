#!/usr/bin/env bash
# Write the OCI API key and config for the OCI provider and the smoke tests' request signing, from the
# repository secrets passed in the environment; nothing is echoed (GitHub masks the secrets, and this script
# prints no value). The key file is 0600 in a 0700 folder; the config names it by path only.
#   OCI_TENANCY_OCID, OCI_USER_OCID, OCI_FINGERPRINT, OCI_REGION: the API key's identity (secrets or variables)
#   OCI_API_KEY: the private key (PEM); OCI_API_KEY_PASSPHRASE: its passphrase, if it has one
set -euo pipefail
umask 077
for name in OCI_TENANCY_OCID OCI_USER_OCID OCI_FINGERPRINT OCI_REGION OCI_API_KEY; do
    if [ -z "${!name:-}" ]; then
        echo "oci-credentials: $name is not set; add it to the repository's secrets (see the README, CI)" >&2
        exit 1
    fi
done
folder="${OCI_CONFIG_DIR:-$HOME/.oci}"
mkdir -p "$folder"
printf '%s\n' "$OCI_API_KEY" >"$folder/key.pem"
{
    echo "[DEFAULT]"
    echo "user=$OCI_USER_OCID"
    echo "fingerprint=$OCI_FINGERPRINT"
    echo "tenancy=$OCI_TENANCY_OCID"
    echo "region=$OCI_REGION"
    echo "key_file=$folder/key.pem"
    if [ -n "${OCI_API_KEY_PASSPHRASE:-}" ]; then echo "pass_phrase=$OCI_API_KEY_PASSPHRASE"; fi
} >"$folder/config"
echo "oci-credentials: wrote $folder/config and its key file"
