"""wirekit.flow"""
