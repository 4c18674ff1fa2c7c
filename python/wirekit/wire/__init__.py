"""wirekit.wire"""
