"""wirekit.event"""
