"""wirekit.banners"""
