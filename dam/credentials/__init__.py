"""Content Credentials (C2PA, issue 19): signed manifests in every stored file, and their verification.

- `signing`: the signer per tenant (its active SigningKey, else the platform key) and the manifests of originals,
  uploads and derived files (placement cuts, renditions), built from the same ProvenanceRecord as the XMP.
- `keys`: signing keys at rest (Fernet-encrypted private keys), creation from a CA, rotation, the dev CA.
- `verify`: reading and validating a manifest store.
See docs/credentials.md.
"""
