"""iOS and Android: a Capacitor project wrapping the deployed site, its icons, store builds."""
