"""wirekit.inject"""
