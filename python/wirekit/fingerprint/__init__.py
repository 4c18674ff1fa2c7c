"""wirekit.fingerprint"""
