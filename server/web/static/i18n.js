"use strict";
// Vietnamese and English strings; times are shown in the site's time zone.
const STRINGS = {
  vi: {
    title: "IOC Sóc Trăng - Giám sát", username: "Tên đăng nhập", password: "Mật khẩu", login: "Đăng nhập",
    logout: "Đăng xuất", tab_wall: "Camera", tab_sensors: "Cảm biến", tab_map: "Bản đồ", tab_events: "Sự kiện", tab_evidence: "Bằng chứng",
    alerts: "Cảnh báo", all_sites: "Tất cả địa bàn", all_severities: "Mọi mức", history: "Lịch sử",
    sev_critical: "Khẩn cấp", sev_warning: "Cảnh báo", sev_info: "Thông tin",
    ack: "Xác nhận", resolve: "Đóng", assign: "Giao", silence: "Tạm tắt", acked_by: "Đã xác nhận bởi",
    assigned_to: "Giao cho", assign_prompt: "Giao cảnh báo cho (tên người dùng):",
    silence_prompt: "Tạm tắt bao nhiêu phút?", silence_reason: "Tạm tắt từ bảng điều khiển",
    state_pending: "Chờ", state_firing: "Đang báo", state_acknowledged: "Đã xác nhận", state_resolved: "Đã đóng",
    online: "Trực tuyến", offline: "Mất kết nối", unknown: "Chưa rõ", range_24h: "24 giờ", range_7d: "7 ngày",
    range_30d: "30 ngày", all_cameras: "Tất cả camera", label: "Đối tượng", search: "Tìm", time: "Thời gian",
    camera: "Camera", kind: "Loại", zone_line: "Vùng / vạch", snapshot: "Ảnh", no_data: "Chưa có dữ liệu",
    threshold: "Ngưỡng", bad_login: "Sai tên đăng nhập hoặc mật khẩu", too_many: "Quá nhiều lần thử, vui lòng đợi",
    connecting: "Đang kết nối…", fallback: "Ảnh tĩnh (dự phòng)", counts: "Số lượt theo vùng / vạch",
    band_fresh: "Ngọt (<1‰)", band_rice: "Lúa chịu được (1-2‰)", band_orchard: "Cây ăn trái bị hại (2-4‰)",
    band_intrusion: "Xâm nhập mặn (>4‰)", aqi_good: "Tốt", aqi_moderate: "Trung bình", aqi_poor: "Kém",
    aqi_bad: "Xấu", aqi_very_bad: "Rất xấu", aqi_hazardous: "Nguy hại", fps: "khung/giây", viewers: "người xem",
    config_refused: "Bản sửa streams.yaml bị từ chối; hệ thống vẫn chạy cấu hình cũ",
    quality_calibrating: "Đang hiệu chuẩn", quality_error: "Lỗi thiết bị",
    kind_object_seen: "Xuất hiện", kind_object_gone: "Rời đi", kind_zone_enter: "Vào vùng", kind_zone_exit: "Ra khỏi vùng",
    kind_loitering: "Lảng vảng", kind_zone_occupancy: "Mật độ trong vùng", kind_line_crossed: "Qua vạch",
    obj_person: "Người", obj_bicycle: "Xe đạp", obj_car: "Ô tô", obj_motorcycle: "Xe máy", obj_bus: "Xe buýt",
    obj_truck: "Xe tải", obj_boat: "Thuyền", obj_dog: "Chó", obj_cat: "Mèo", obj_unknown: "Đối tượng",
    dir_in: "vào", dir_out: "ra", main_tabs: "Các màn hình", alert_filters: "Lọc cảnh báo", alert_feed: "Danh sách cảnh báo",
    event_filters: "Lọc sự kiện", event_camera: "Camera", event_range: "Khoảng thời gian", site_time: "Giờ tại địa bàn",
    language: "Ngôn ngữ", alert_site: "Địa bàn", alert_severity: "Mức độ", events_table: "Sự kiện phát hiện",
    chart_ranges: "Khoảng thời gian của biểu đồ", sensor_list: "Danh sách cảm biến", alert_connection: "Kết nối cảnh báo",
    assign_title: "Giao cảnh báo", assign_to: "Người nhận (tên đăng nhập)", silence_title: "Tạm tắt cảnh báo",
    silence_for: "Thời gian tạm tắt", minutes: "phút", hours: "giờ", reason: "Lý do", cancel: "Hủy", confirm: "Đồng ý",
    error: "Lỗi", no_events: "Chưa có sự kiện", range_1h: "1 giờ", range_6h: "6 giờ", enable_alerts: "Bật thông báo",
    new_critical: "Cảnh báo khẩn cấp mới", unit_permille: "‰", unit_fps: "khung/giây", login_title: "Đăng nhập",
    map_label: "Bản đồ camera và cảm biến", chart_label: "Biểu đồ cảm biến", series_avg: "Trung bình", series_min: "Thấp nhất",
    series_max: "Cao nhất", series_flagged: "Đang hiệu chuẩn / lỗi", on_map: "Bản đồ",
    every_event: "Từng sự kiện", activity_seen: "Xuất hiện rồi rời đi", events_count: "sự kiện",
    tab_overview: "Tổng quan", ov_alerts: "Cảnh báo đang mở", ov_offline: "Thiết bị mất kết nối", ov_cameras_offline: "Camera",
    ov_sensors_offline: "Cảm biến", ov_salinity: "Độ mặn mới nhất theo địa bàn", ov_water: "Mực nước so với mức báo động",
    ov_air: "Bụi PM2.5 (VN_AQI)", ov_lines: "Lượt qua vạch hôm nay", ov_no_crossings: "Chưa có lượt qua vạch",
    map_offline_grid: "Lưới tọa độ ngoại tuyến (chưa cấu hình máy chủ bản đồ)", map_circles: "Vòng tròn: địa bàn chưa có ranh giới GeoJSON",
    tile_live: "Đang phát", tile_connecting: "Đang kết nối", tile_stalled: "Hình bị dừng", tile_offline: "Mất kết nối",
    tile_no_video: "Không có hình", tile_fallback: "Ảnh MJPEG",
    fallback_webrtc_failed: "MJPEG: WebRTC không kết nối được", fallback_no_frames: "MJPEG: WebRTC không có hình",
    fallback_unsupported: "MJPEG: trình duyệt không hỗ trợ", fallback_requested: "MJPEG",
    wall_tools: "Điều khiển màn hình camera", layout: "Bố cục", layout_1: "1 camera", layout_4: "4 camera",
    layout_9: "9 camera", layout_16: "16 camera", layout_1_5: "1 lớn + 5 nhỏ", group: "Nhóm",
    previous_page: "Trang trước", next_page: "Trang sau", tour: "Tự động chuyển", no_cameras: "Không có camera trong nhóm này",
  },
  en: {
    title: "Sóc Trăng IOC - Monitoring", username: "User name", password: "Password", login: "Log in",
    logout: "Log out", tab_wall: "Cameras", tab_sensors: "Sensors", tab_map: "Map", tab_events: "Events", tab_evidence: "Evidence",
    alerts: "Alerts", all_sites: "All sites", all_severities: "All severities", history: "History",
    sev_critical: "Critical", sev_warning: "Warning", sev_info: "Info",
    ack: "Acknowledge", resolve: "Resolve", assign: "Assign", silence: "Silence", acked_by: "Acknowledged by",
    assigned_to: "Assigned to", assign_prompt: "Assign the alert to (user name):",
    silence_prompt: "Silence for how many minutes?", silence_reason: "Silenced from the console",
    state_pending: "Pending", state_firing: "Firing", state_acknowledged: "Acknowledged", state_resolved: "Resolved",
    online: "Online", offline: "Offline", unknown: "Unknown", range_24h: "24 h", range_7d: "7 days",
    range_30d: "30 days", all_cameras: "All cameras", label: "Object", search: "Search", time: "Time",
    camera: "Camera", kind: "Kind", zone_line: "Zone / line", snapshot: "Snapshot", no_data: "No data yet",
    threshold: "Threshold", bad_login: "Wrong user name or password", too_many: "Too many attempts, please wait",
    connecting: "Connecting…", fallback: "Still pictures (fallback)", counts: "Counts per zone / line",
    band_fresh: "Fresh (<1‰)", band_rice: "Rice tolerates (1-2‰)", band_orchard: "Orchards harmed (2-4‰)",
    band_intrusion: "Salt intrusion (>4‰)", aqi_good: "Good", aqi_moderate: "Moderate", aqi_poor: "Poor",
    aqi_bad: "Bad", aqi_very_bad: "Very bad", aqi_hazardous: "Hazardous", fps: "fps", viewers: "viewers",
    config_refused: "The streams.yaml edit was refused; the previous configuration keeps running",
    quality_calibrating: "Calibrating", quality_error: "Instrument error",
    kind_object_seen: "Appeared", kind_object_gone: "Left", kind_zone_enter: "Entered zone", kind_zone_exit: "Left zone",
    kind_loitering: "Loitering", kind_zone_occupancy: "Zone occupancy", kind_line_crossed: "Crossed line",
    obj_person: "Person", obj_bicycle: "Bicycle", obj_car: "Car", obj_motorcycle: "Motorbike", obj_bus: "Bus",
    obj_truck: "Truck", obj_boat: "Boat", obj_dog: "Dog", obj_cat: "Cat", obj_unknown: "Object",
    dir_in: "in", dir_out: "out", main_tabs: "Views", alert_filters: "Alert filters", alert_feed: "Alert list",
    event_filters: "Event filters", event_camera: "Camera", event_range: "Time range", site_time: "Site time",
    language: "Language", alert_site: "Site", alert_severity: "Severity", events_table: "Detection events",
    chart_ranges: "Chart time range", sensor_list: "Sensors", alert_connection: "Alert connection",
    assign_title: "Assign the alert", assign_to: "Assignee (user name)", silence_title: "Silence the alert",
    silence_for: "Silence for", minutes: "minutes", hours: "hours", reason: "Reason", cancel: "Cancel", confirm: "OK",
    error: "Error", no_events: "No events yet", range_1h: "1 h", range_6h: "6 h", enable_alerts: "Enable notifications",
    new_critical: "New critical alert", unit_permille: "‰", unit_fps: "fps", login_title: "Log in",
    map_label: "Map of cameras and sensors", chart_label: "Sensor chart", series_avg: "Average", series_min: "Lowest",
    series_max: "Highest", series_flagged: "Calibrating / error", on_map: "Map",
    every_event: "Every event", activity_seen: "Seen, then gone", events_count: "events",
    tab_overview: "Overview", ov_alerts: "Open alerts", ov_offline: "Devices offline", ov_cameras_offline: "Cameras",
    ov_sensors_offline: "Sensors", ov_salinity: "Latest salinity per site", ov_water: "Water level against alarm levels",
    ov_air: "PM2.5 (VN_AQI)", ov_lines: "Line crossings today", ov_no_crossings: "No crossings yet",
    map_offline_grid: "Offline grid (no tile server configured)", map_circles: "Circles: sites without a GeoJSON outline",
    tile_live: "Live", tile_connecting: "Connecting", tile_stalled: "Picture stalled", tile_offline: "Offline",
    tile_no_video: "No picture", tile_fallback: "MJPEG pictures",
    fallback_webrtc_failed: "MJPEG: WebRTC could not connect", fallback_no_frames: "MJPEG: WebRTC gave no picture",
    fallback_unsupported: "MJPEG: browser lacks WebRTC", fallback_requested: "MJPEG",
    wall_tools: "Camera wall controls", layout: "Layout", layout_1: "1 camera", layout_4: "4 cameras",
    layout_9: "9 cameras", layout_16: "16 cameras", layout_1_5: "1 large + 5 small", group: "Group",
    previous_page: "Previous page", next_page: "Next page", tour: "Tour", no_cameras: "No camera in this group",
  },
};

const I18N = {
  lang: localStorage.getItem("ioc.lang") || "vi",
  timeZone: "Asia/Ho_Chi_Minh",
  deployment: null,       // the configured title {vi, en}
  missing: new Set(),     // keys asked for that the current language lacks (a test asserts none)
  t(key) {
    if (key === "title" && this.deployment) return this.deployment[this.lang] || this.deployment.vi;
    const table = STRINGS[this.lang] || STRINGS.vi;
    if (!(key in table)) { this.missing.add(`${this.lang}:${key}`); return STRINGS.en[key] || key; }
    return table[key];
  },
  // Other modules add their own strings: I18N.extend({vi: {...}, en: {...}}).
  extend(strings) { Object.entries(strings).forEach(([lang, table]) => Object.assign(STRINGS[lang], table)); },
  kind(kind) { return kind ? this.t(`kind_${kind}`) : ""; },
  object(label) { return label ? (`obj_${label}` in STRINGS.vi ? this.t(`obj_${label}`) : label) : ""; },
  number(value, digits = 2) {
    return new Intl.NumberFormat(this.lang === "vi" ? "vi-VN" : "en-GB", { maximumFractionDigits: digits }).format(value);
  },
  set(lang) {
    this.lang = lang === "en" ? "en" : "vi";
    localStorage.setItem("ioc.lang", this.lang);
    this.apply();
    document.dispatchEvent(new CustomEvent("ioc:lang"));
  },
  apply(root = document) {
    document.documentElement.lang = this.lang;
    document.title = this.t("title");
    root.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = this.t(el.dataset.i18n); });
    root.querySelectorAll("[data-i18n-placeholder]").forEach((el) => { el.placeholder = this.t(el.dataset.i18nPlaceholder); });
    root.querySelectorAll("[data-i18n-label]").forEach((el) => el.setAttribute("aria-label", this.t(el.dataset.i18nLabel)));
    root.querySelectorAll("[data-i18n-title]").forEach((el) => { el.title = this.t(el.dataset.i18nTitle); });
    const toggle = document.getElementById("lang-toggle");
    if (toggle) toggle.textContent = this.lang === "vi" ? "EN" : "VI";
  },
  time(value, withDate = true) {
    if (!value) return "";
    const options = { timeZone: this.timeZone, hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false };
    if (withDate) Object.assign(options, { day: "2-digit", month: "2-digit", year: "numeric" });
    return new Intl.DateTimeFormat(this.lang === "vi" ? "vi-VN" : "en-GB", options).format(new Date(value));
  },
};
