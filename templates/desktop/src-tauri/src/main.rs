// A window onto the app's web build or deployed URL; everything app-specific is in tauri.conf.json.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    let builder = tauri::Builder::default();
    #[cfg(feature = "updater")]
    let builder = builder
        .plugin(tauri_plugin_updater::Builder::new().build())
        .setup(|app| {
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(updates::install_latest(handle));
            Ok(())
        });
    builder
        .run(tauri::generate_context!())
        .expect("the app window could not be opened");
}

#[cfg(feature = "updater")]
mod updates {
    use tauri_plugin_updater::UpdaterExt;

    /// Checks the manifest at plugins.updater.endpoints; a signed newer version is installed and
    /// the app restarts into it. Any failure leaves the running version as it is.
    pub async fn install_latest(app: tauri::AppHandle) {
        let Ok(updater) = app.updater() else { return };
        match updater.check().await {
            Ok(Some(update)) => {
                if update.download_and_install(|_, _| {}, || {}).await.is_ok() {
                    app.restart();
                }
            }
            Ok(None) => {}
            Err(err) => eprintln!("update check failed: {err}"),
        }
    }
}
